{# Trimmed text, with empty strings as null: raw files write "no value" as "". #}
{% macro cdp_clean_text(expression) -%}
    nullif(trim(cast({{ expression }} as {{ dbt.type_string() }})), '')
{%- endmacro %}
