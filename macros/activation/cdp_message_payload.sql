{#
    The payload of a planned message: a JSON text with what the message is about, built
    here and nowhere else (int_message_candidates calls it once per message). Content
    built on top adds its fields here. recommended_product_ids: the
    person's first cdp__payload_recommendations of fct_person_recommendations, best first.
    store_id, store_name, store_city: the person's nearest store (int_person_stores).
#}
{% macro cdp_message_payload(product_ids, recommended_product_ids, first_name, loyalty_tier, points_balance, points_expiring, points_expire_at, offer_key, store_id, store_name, store_city) -%}
    {{ cdp_json_object([
        ('product_ids', cdp_split_list(product_ids)),
        ('recommended_product_ids', cdp_split_list(recommended_product_ids)),
        ('first_name', first_name),
        ('loyalty_tier', loyalty_tier),
        ('points_balance', 'cast(' ~ points_balance ~ ' as bigint)'),
        ('points_expiring', 'cast(' ~ points_expiring ~ ' as bigint)'),
        ('points_expire_at', 'cast(' ~ points_expire_at ~ ' as ' ~ dbt.type_string() ~ ')'),
        ('offer_key', offer_key),
        ('store_id', store_id),
        ('store_name', store_name),
        ('store_city', store_city),
    ]) }}
{%- endmacro %}

{#- A comma-separated text as an array (null stays null). -#}
{% macro cdp_split_list(expression) -%}
    {{ return(adapter.dispatch('cdp_split_list', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__cdp_split_list(expression) -%}
    string_split({{ expression }}, ',')
{%- endmacro %}

{% macro spark__cdp_split_list(expression) -%}
    split({{ expression }}, ',')
{%- endmacro %}

{#- `item` is one of the values of the comma-separated text `list`. -#}
{% macro cdp_list_contains(list, item) -%}
    {{ dbt.position(dbt.concat(["','", item, "','"]), dbt.concat(["','", list, "','"])) }} > 0
{%- endmacro %}
