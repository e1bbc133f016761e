{#
    A number text to a double; null when unparseable, not finite (`inf`, `nan`, `1e400`)
    or outside [min_value, max_value] (a latitude of 95). NaN and the infinities fall
    outside every range, so the default range (the finite doubles) keeps only numbers.
#}
{% macro cdp_parse_number(expression, min_value=-1.7976931348623157e308, max_value=1.7976931348623157e308) -%}
    {%- set parsed = cdp_try_cast(expression, 'double') -%}
    case when {{ parsed }} between {{ min_value }} and {{ max_value }} then {{ parsed }} end
{%- endmacro %}
