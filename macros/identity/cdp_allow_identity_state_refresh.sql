{#-
    `full_refresh` config of identity state models: false unless var
    cdp__identity_allow_state_refresh is true, so that `dbt build --full-refresh` keeps
    person ids and the merge log (the Snowplow packages guard their manifests this way).
-#}
{% macro cdp_allow_identity_state_refresh() -%}
    {{ return(var('cdp__identity_allow_state_refresh', false) in [true, 'true', 'True', 1]) }}
{%- endmacro %}
