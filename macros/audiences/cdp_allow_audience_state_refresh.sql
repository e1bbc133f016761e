{#-
    `full_refresh` config of the audience membership log: false unless var
    cdp__audience_allow_state_refresh is true, so that `dbt build --full-refresh` keeps
    when every member entered and the size history (as identity guards its state).
-#}
{% macro cdp_allow_audience_state_refresh() -%}
    {{ return(var('cdp__audience_allow_state_refresh', false) in [true, 'true', 'True', 1]) }}
{%- endmacro %}
