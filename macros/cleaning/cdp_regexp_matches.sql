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
    {#- Backslashes reach the regex as written: the spark target runs with
        spark.sql.parser.escapedStringLiterals (see cdp_session_settings). -#}
    ({{ expression }} rlike '^(?:{{ pattern }})$')
{%- endmacro %}
