{#
    Session settings every run needs, applied at the start of each dbt invocation
    (on-run-start) so that they hold on any connection method, not only the local
    session `cdp build` creates with the same settings.
#}
{% macro cdp_session_settings() -%}
    {{ return(adapter.dispatch('cdp_session_settings', 'cdp')()) }}
{%- endmacro %}

{% macro default__cdp_session_settings() -%}
{%- endmacro %}

{% macro spark__cdp_session_settings() -%}
    {#- String literals as written (as on DuckDB): a backslash in a regex stays one. -#}
    set spark.sql.parser.escapedStringLiterals = true
{%- endmacro %}
