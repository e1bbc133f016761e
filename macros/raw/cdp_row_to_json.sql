{# The given columns of the current row as one JSON object, for quarantine rows. #}
{% macro cdp_row_to_json(columns) -%}
    {%- set pairs = [] -%}
    {%- for column in columns -%}
        {%- do pairs.append((column, adapter.quote(column))) -%}
    {%- endfor -%}
    {{ cdp_json_object(pairs) }}
{%- endmacro %}
