{#-
    `full_refresh` config of the decision log (fct_message_decisions): false unless var
    cdp__plan_allow_decision_log_refresh is true, so that `dbt build --full-refresh`
    keeps the history lift is measured on.
-#}
{% macro cdp_allow_decision_log_refresh() -%}
    {{ return(var('cdp__plan_allow_decision_log_refresh', false) in [true, 'true', 'True', 1]) }}
{%- endmacro %}
