{# True when the whole of `expression` matches the regular expression `pattern`. #}
{% macro cdp_regexp_matches(expression, pattern) -%}
    {{ return(adapter.dispatch('cdp_regexp_matches', 'cdp')(expression, pattern)) }}
{%- endmacro %}

{% macro default__cdp_regexp_matches(expression, pattern) -%}
    regexp_like({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro duckdb__cdp_regexp_matches(expression, pattern) -%}
    regexp_full_match({{ expression }}, '{{ pattern }}')
{%- endmacro %}

{% macro spark__cdp_regexp_matches(expression, pattern) -%}
    {#- Spark string literals treat a backslash as an escape character. -#}
    ({{ expression }} rlike '^(?:{{ pattern | replace('\\', '\\\\') }})$')
{%- endmacro %}
