{# The given columns of the current row as one JSON object, for quarantine rows. #}
{% macro cdp_row_to_json(columns) -%}
    {{ return(adapter.dispatch('cdp_row_to_json', 'cdp')(columns)) }}
{%- endmacro %}

{% macro default__cdp_row_to_json(columns) -%}
    to_json(named_struct(
        {%- for column in columns %}'{{ column }}', {{ adapter.quote(column) }}{{ ', ' if not loop.last }}{% endfor -%}
    ))
{%- endmacro %}

{% macro duckdb__cdp_row_to_json(columns) -%}
    cast(to_json(struct_pack(
        {%- for column in columns %}{{ adapter.quote(column) }} := {{ adapter.quote(column) }}{{ ', ' if not loop.last }}{% endfor -%}
    )) as varchar)
{%- endmacro %}
