{# An enum value as the contract spells it: trimmed and lower-case. #}
{% macro cdp_clean_enum(expression) -%}
    lower({{ cdp_clean_text(expression) }})
{%- endmacro %}
