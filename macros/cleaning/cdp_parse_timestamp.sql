{#
    An ISO-8601 text to a UTC timestamp without zone. Text with an offset
    ("2026-11-20T10:15:00+01:00") is converted to UTC; text without one is taken as UTC.
    Unparseable text gives null (staging quarantines or nulls it).
#}
{% macro cdp_parse_timestamp(expression) -%}
    {{ return(adapter.dispatch('cdp_parse_timestamp', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__cdp_parse_timestamp(expression) -%}
    {{ cdp_try_cast(expression, dbt.type_timestamp()) }}
{%- endmacro %}

{% macro duckdb__cdp_parse_timestamp(expression) -%}
    cast(timezone('UTC', {{ cdp_try_cast(expression, 'timestamptz') }}) as timestamp)
{%- endmacro %}
