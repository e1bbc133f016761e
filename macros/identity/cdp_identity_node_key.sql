{#- One text key per identifier: its type, a colon, its normalised value. Types have no colon, so the key is unambiguous. -#}
{% macro cdp_identity_node_key(type_expression, value_expression) -%}
    {{ dbt.concat([type_expression, "':'", value_expression]) }}
{%- endmacro %}

{#- The type or the value back out of a node key. -#}
{% macro cdp_identity_node_part(node_key_expression, part) -%}
    {%- set colon = dbt.position("':'", node_key_expression) -%}
    {%- if part == 'type' -%}
        substr({{ node_key_expression }}, 1, {{ colon }} - 1)
    {%- else -%}
        substr({{ node_key_expression }}, {{ colon }} + 1)
    {%- endif -%}
{%- endmacro %}
