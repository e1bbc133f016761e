{#
    An ISO-8601 text to a UTC timestamp without zone. Text with an offset
    ("2026-11-20T10:15:00+01:00") is converted to UTC; text without one is taken as UTC.
    Unparseable text gives null (staging quarantines or nulls it), and so do the values a
    warehouse parses that no source means: the special words (`epoch`, `infinity`,
    `now`, ...), infinities and moments before 1900 or after 9999.
#}
{% macro cdp_parse_timestamp(expression) -%}
    {%- set parsed = adapter.dispatch('cdp_parse_timestamp', 'cdp')(expression) -%}
    case
        when {{ cdp_is_special_time_word(expression) }} then null
        when {{ parsed }} >= cast('1900-01-01' as {{ dbt.type_timestamp() }})
            and {{ parsed }} <= cast('9999-12-31 23:59:59' as {{ dbt.type_timestamp() }})
            then {{ parsed }}
    end
{%- endmacro %}

{% macro default__cdp_parse_timestamp(expression) -%}
    {{ cdp_try_cast(expression, dbt.type_timestamp()) }}
{%- endmacro %}

{% macro duckdb__cdp_parse_timestamp(expression) -%}
    cast(timezone('UTC', {{ cdp_try_cast(expression, 'timestamptz') }}) as timestamp)
{%- endmacro %}

{#
    A date text to a date; null when unparseable, special (see above), before 1900 or,
    when given, after `latest` (a SQL date expression: a birth date after as-of).
#}
{% macro cdp_parse_date(expression, latest=none) -%}
    {%- set parsed = cdp_try_cast(expression, 'date') -%}
    case
        when {{ cdp_is_special_time_word(expression) }} then null
        when {{ parsed }} >= cast('1900-01-01' as date)
            and {{ parsed }} <= {{ latest if latest is not none else "cast('9999-12-31' as date)" }}
            then {{ parsed }}
    end
{%- endmacro %}

{# Words some warehouses cast to a moment (DuckDB: epoch, infinity; Spark 3.0: now, today, ...). #}
{% macro cdp_is_special_time_word(expression) -%}
    lower({{ cdp_clean_text(expression) }}) in (
        'epoch', 'infinity', '+infinity', '-infinity', 'now', 'today', 'tomorrow', 'yesterday', 'allballs'
    )
{%- endmacro %}

{#
    An optional event time (a profile's last update, a ticket's closing): as
    cdp_parse_timestamp, and null when it is more than a day after as-of (clocks a few
    hours off are not wrong data; a year 9999 is). Required event times are quarantined
    instead, by cdp_check_not_after_as_of.
#}
{% macro cdp_parse_event_time(expression) -%}
    {%- set parsed = cdp_parse_timestamp(expression) -%}
    case when {{ parsed }} <= {{ dbt.dateadd('day', 1, cdp_as_of()) }} then {{ parsed }} end
{%- endmacro %}
