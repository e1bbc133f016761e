{#- A JSON object text from (key, expression) pairs, keys in order, nulls kept: the
    payload of a planned message and the raw row of a quarantine row. -#}
{% macro cdp_json_object(pairs) -%}
    {{ return(adapter.dispatch('cdp_json_object', 'cdp')(pairs)) }}
{%- endmacro %}

{#- json_object, not to_json of a struct: the same text, and it transpiles to every
    warehouse (a struct literal needs typed fields on Trino). -#}
{% macro default__cdp_json_object(pairs) -%}
    cast(json_object({% for key, expression in pairs %}'{{ key }}', {{ expression }}{{ ', ' if not loop.last }}{% endfor %}) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro spark__cdp_json_object(pairs) -%}
    to_json(named_struct({% for key, expression in pairs %}'{{ key }}', {{ expression }}{{ ', ' if not loop.last }}{% endfor %}), map('ignoreNullFields', 'false'))
{%- endmacro %}
