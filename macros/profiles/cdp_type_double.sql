{#
    An 8-byte floating point type. dbt.type_float() is `float`, which DuckDB reads as a
    4-byte float: too coarse for fitted model parameters and probabilities.
#}
{% macro cdp_type_double() -%}
    {{ return(adapter.dispatch('cdp_type_double', 'cdp')()) }}
{%- endmacro %}

{% macro default__cdp_type_double() -%}
    double
{%- endmacro %}
