{# A cast that yields null instead of failing the build when the value does not parse. #}
{% macro cdp_try_cast(expression, data_type) -%}
    {{ return(adapter.dispatch('cdp_try_cast', 'cdp')(expression, data_type)) }}
{%- endmacro %}

{% macro default__cdp_try_cast(expression, data_type) -%}
    try_cast({{ cdp_clean_text(expression) }} as {{ data_type }})
{%- endmacro %}
