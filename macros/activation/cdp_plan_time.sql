{#
    Time arithmetic the message plan needs, the same on every warehouse: local time in
    a person's IANA time zone (DuckDB's ICU extension, Spark's from/to_utc_timestamp),
    minutes added from a column, and quiet hours. Timestamps are naive UTC everywhere
    else in the warehouse (the session runs in UTC).
#}

{#- The local wall-clock time in `time_zone` (an IANA name) of the UTC timestamp `timestamp`. -#}
{% macro cdp_utc_to_local(timestamp, time_zone) -%}
    {{ return(adapter.dispatch('cdp_utc_to_local', 'cdp')(timestamp, time_zone)) }}
{%- endmacro %}

{% macro default__cdp_utc_to_local(timestamp, time_zone) -%}
    timezone({{ time_zone }}, cast({{ timestamp }} as timestamptz))
{%- endmacro %}

{% macro spark__cdp_utc_to_local(timestamp, time_zone) -%}
    from_utc_timestamp({{ timestamp }}, {{ time_zone }})
{%- endmacro %}

{#- The UTC timestamp of the local wall-clock time `timestamp` in `time_zone`. -#}
{% macro cdp_local_to_utc(timestamp, time_zone) -%}
    {{ return(adapter.dispatch('cdp_local_to_utc', 'cdp')(timestamp, time_zone)) }}
{%- endmacro %}

{% macro default__cdp_local_to_utc(timestamp, time_zone) -%}
    cast(timezone({{ time_zone }}, {{ timestamp }}) as timestamp)
{%- endmacro %}

{% macro spark__cdp_local_to_utc(timestamp, time_zone) -%}
    to_utc_timestamp({{ timestamp }}, {{ time_zone }})
{%- endmacro %}

{#- `timestamp` plus `minutes`, an integer expression (dbt.dateadd takes only constants). -#}
{% macro cdp_add_minutes(timestamp, minutes) -%}
    {{ return(adapter.dispatch('cdp_add_minutes', 'cdp')(timestamp, minutes)) }}
{%- endmacro %}

{% macro default__cdp_add_minutes(timestamp, minutes) -%}
    ({{ timestamp }} + to_minutes(cast({{ minutes }} as bigint)))
{%- endmacro %}

{% macro spark__cdp_add_minutes(timestamp, minutes) -%}
    ({{ timestamp }} + make_interval(0, 0, 0, 0, 0, cast({{ minutes }} as int), 0))
{%- endmacro %}

{#- Whole minutes from `start` to `end` (negative when end is earlier). -#}
{% macro cdp_minutes_between(start, end) -%}
    {{ return(adapter.dispatch('cdp_minutes_between', 'cdp')(start, end)) }}
{%- endmacro %}

{% macro default__cdp_minutes_between(start, end) -%}
    cast(floor((epoch({{ end }}) - epoch({{ start }})) / 60) as bigint)
{%- endmacro %}

{% macro spark__cdp_minutes_between(start, end) -%}
    cast(floor((unix_timestamp({{ end }}) - unix_timestamp({{ start }})) / 60) as bigint)
{%- endmacro %}

{#- Minutes after local midnight of an "HH:MM" var (cdp__quiet_hours_start / _end). -#}
{% macro cdp_clock_minutes(var_name) -%}
    {%- set text = var(var_name) | string -%}
    {%- if not modules.re.match('^([01][0-9]|2[0-3]):[0-5][0-9]$', text) -%}
        {{ exceptions.raise_compiler_error('var ' ~ var_name ~ ' must be a time of day HH:MM, got ' ~ text) }}
    {%- endif -%}
    {{ return((text[:2] | int) * 60 + (text[3:] | int)) }}
{%- endmacro %}

{#- The local calendar day of the UTC timestamp `timestamp` in `time_zone`. -#}
{% macro cdp_local_day(timestamp, time_zone) -%}
    cast({{ cdp_utc_to_local(timestamp, time_zone) }} as date)
{%- endmacro %}

{#- The Monday of the local calendar week of `day` (a date). -#}
{% macro cdp_week_start(day) -%}
    cast({{ dbt.date_trunc('week', day) }} as date)
{%- endmacro %}

{#-
    The first moment, at or after the UTC timestamp `timestamp`, outside the quiet
    hours of `time_zone` (vars cdp__quiet_hours_start / _end, local time; equal: none).
    A moment inside the window moves to the window's end: the same local day when the
    window has not yet ended that day, else the next. `local_timestamp`, when given, is
    `timestamp` already in local time (a column computed once).
-#}
{% macro cdp_after_quiet_hours(timestamp, time_zone, local_timestamp=none) -%}
    {%- set start = cdp_clock_minutes('cdp__quiet_hours_start') -%}
    {%- set end = cdp_clock_minutes('cdp__quiet_hours_end') -%}
    {%- if start == end -%}
        {{ return(timestamp) }}
    {%- endif -%}
    {%- set local = local_timestamp or cdp_utc_to_local(timestamp, time_zone) -%}
    {%- set minute_of_day = '(extract(hour from ' ~ local ~ ') * 60 + extract(minute from ' ~ local ~ '))' -%}
    {%- set local_midnight = 'cast(cast(' ~ local ~ ' as date) as timestamp)' -%}
    case
    {%- if start > end %}
        when {{ minute_of_day }} >= {{ start }} then {{ cdp_local_to_utc(cdp_add_minutes(local_midnight, end + 1440), time_zone) }}
        when {{ minute_of_day }} < {{ end }} then {{ cdp_local_to_utc(cdp_add_minutes(local_midnight, end), time_zone) }}
    {%- else %}
        when {{ minute_of_day }} >= {{ start }} and {{ minute_of_day }} < {{ end }}
            then {{ cdp_local_to_utc(cdp_add_minutes(local_midnight, end), time_zone) }}
    {%- endif %}
        else {{ timestamp }}
    end
{%- endmacro %}

{#- The UTC moment a local day `day` (a date) opens for sending: the end of the morning's quiet hours. -#}
{% macro cdp_local_day_opens_at(day, time_zone) -%}
    {%- set start = cdp_clock_minutes('cdp__quiet_hours_start') -%}
    {%- set end = cdp_clock_minutes('cdp__quiet_hours_end') -%}
    {%- set opens = end if start > end else 0 -%}
    {{ cdp_local_to_utc(cdp_add_minutes('cast(' ~ day ~ ' as timestamp)', opens), time_zone) }}
{%- endmacro %}
