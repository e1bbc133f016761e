{#
    How big each audience was, day by day, derived from the membership log alone: a day
    counts the entries and exits recorded by the builds of that day (their as-of date),
    and members is the open spells at the end of it. Days without a build carry the
    size forward. merged_away is the members lost because identity merged two of them
    into one person (spells folded into a survivor), so that
    members = previous day's members + entries - exits - merged_away.
#}

with membership_log as (
    select * from {{ ref('int_audience_membership_log') }}
),

daily_changes as (
    select
        audience_name,
        cast(recorded_at as date) as date_day,
        sum(case when change = 'entered' and change_reason = 'qualified' then 1 else 0 end) as entries,
        sum(case when change = 'exited' and change_reason = 'no_longer_qualifies' then 1 else 0 end) as exits,
        sum(
            case
                when change = 'exited' and change_reason = 'merged' then 1
                when change = 'entered' and change_reason = 'merged' then -1
                else 0
            end
        ) as merged_away
    from membership_log
    group by audience_name, cast(recorded_at as date)
),

audience_first_days as (
    select
        audience_name,
        min(date_day) as first_day
    from daily_changes
    group by audience_name
),

-- every day from the first recorded one to the as-of day (dbt's spine counts the days
-- with a query of its own, so the first day is read from the log relation itself)
{%- set as_of_day = 'cast(' ~ cdp_as_of() ~ ' as date)' %}
{#- Before the log exists (a project only being compiled or linted) the spine is the as-of day. -#}
{%- set log_relation = ref('int_audience_membership_log') %}
{%- if execute and load_relation(log_relation) is none %}
    {%- set first_day = as_of_day %}
{%- else %}
    {%- set first_day = 'coalesce((select min(cast(recorded_at as date)) from ' ~ log_relation
                        ~ '), ' ~ as_of_day ~ ')' %}
{%- endif %}
calendar as (
    {{ dbt.date_spine('day', first_day, dbt.dateadd('day', 1, as_of_day)) }}
),

calendar_days as (
    select cast(date_day as date) as date_day from calendar
),

audience_days as (
    select
        audience_first_days.audience_name,
        calendar_days.date_day
    from audience_first_days
    inner join calendar_days on audience_first_days.first_day <= calendar_days.date_day
),

sized as (
    select
        audience_days.audience_name,
        audience_days.date_day,
        cast(sum(
            coalesce(daily_changes.entries - daily_changes.exits - daily_changes.merged_away, 0)
        ) over (
            partition by audience_days.audience_name
            -- date_day is never null; `nulls first` keeps the window transpilable as it is
            order by audience_days.date_day nulls first
            rows between unbounded preceding and current row
        ) as {{ dbt.type_bigint() }}) as members,
        cast(coalesce(daily_changes.entries, 0) as {{ dbt.type_bigint() }}) as entries,
        cast(coalesce(daily_changes.exits, 0) as {{ dbt.type_bigint() }}) as exits,
        cast(coalesce(daily_changes.merged_away, 0) as {{ dbt.type_bigint() }}) as merged_away
    from audience_days
    left join daily_changes
        on audience_days.audience_name = daily_changes.audience_name
        and audience_days.date_day = daily_changes.date_day
)

select * from sized
