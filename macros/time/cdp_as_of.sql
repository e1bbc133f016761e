{#
    The one notion of "now" in every model: the cdp__as_of var, or the moment this dbt
    invocation started. Returned as a UTC timestamp literal, so the same run always sees
    the same instant.
#}
{% macro cdp_as_of() -%}
    {{ return(adapter.dispatch('cdp_as_of', 'cdp')()) }}
{%- endmacro %}

{% macro default__cdp_as_of() -%}
    cast('{{ cdp_as_of_string() }}' as {{ dbt.type_timestamp() }})
{%- endmacro %}

{% macro cdp_as_of_string() -%}
    {%- set configured = var('cdp__as_of', none) -%}
    {%- if configured is none or configured == '' -%}
        {{ return(run_started_at.strftime('%Y-%m-%d %H:%M:%S')) }}
    {%- endif -%}
    {%- set text = configured | string | trim | replace('Z', '+00:00') -%}
    {%- set parsed = modules.datetime.datetime.fromisoformat(text) if modules.re.match('^\\d{4}-\\d{2}-\\d{2}([T ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d+)?)?([+-]\\d{2}:\\d{2})?)?$', text) else none -%}
    {%- if parsed is none -%}
        {{ exceptions.raise_compiler_error("var cdp__as_of must be an ISO-8601 timestamp such as 2026-11-20T09:00:00Z, got '" ~ configured ~ "'") }}
    {%- endif -%}
    {%- if parsed.tzinfo is not none -%}
        {%- set parsed = parsed.astimezone(modules.pytz.utc).replace(tzinfo=none) -%}
    {%- endif -%}
    {{ return(parsed.strftime('%Y-%m-%d %H:%M:%S')) }}
{%- endmacro %}
