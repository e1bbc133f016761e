{#
    Holdouts: stable hash buckets of person_id, the same on every warehouse and every
    build. A person's bucket depends only on their person_id and the salt (var
    cdp__holdout_salt), so it survives rebuilds; identity keeps the surviving person's
    id on a merge, so the survivor's bucket decides.
#}

{#- A bucket in 0..9999 from the first 32 bits of the md5 of `expression`. -#}
{% macro cdp_hash_bucket(expression) -%}
    {{ return(adapter.dispatch('cdp_hash_bucket', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__cdp_hash_bucket(expression) -%}
    (cast(('0x' || substr({{ dbt.hash(expression) }}, 1, 8)) as bigint) % 10000)
{%- endmacro %}

{% macro spark__cdp_hash_bucket(expression) -%}
    (cast(conv(substr({{ dbt.hash(expression) }}, 1, 8), 16, 10) as bigint) % 10000)
{%- endmacro %}

{#- The person is in the global control group (var cdp__global_control_share): no promotional message at all. -#}
{% macro cdp_is_global_control(person_id) -%}
    ({{ cdp_hash_bucket(dbt.concat(["'" ~ var('cdp__holdout_salt') ~ "|global|'", person_id])) }}
        < {{ (var('cdp__global_control_share') * 10000) | round | int }})
{%- endmacro %}

{#- The person is held out of `journey` (a column), which holds back `share` (an expression, 0 to 1). -#}
{% macro cdp_is_journey_holdout(person_id, journey, share) -%}
    ({{ cdp_hash_bucket(dbt.concat(["'" ~ var('cdp__holdout_salt') ~ "|'", journey, "'|'", person_id])) }}
        < round({{ share }} * 10000))
{%- endmacro %}
