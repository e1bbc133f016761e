{#
    Persons per lifecycle stage at the end of each of the last cdp__lifecycle_report_weeks
    weeks (weeks start on Monday; the current, unfinished week ends at cdp__as_of), and
    how many entered the stage that week: entering at_risk or lapsed is churn, entering
    won_back is a win-back. The stage is cdp_lifecycle_stage at the week's end, the same
    definition as dim_persons.lifecycle_stage. A person is a prospect from when one of
    their identifiers was first seen until their first purchase; entering prospect is
    being acquired.
#}

with purchases as (
    select * from {{ ref('fct_purchases') }}
    where person_id is not null and not is_fully_returned
),

identifiers as (
    select * from {{ ref('bdg_person_identifiers') }}
),

report_weeks as (
    -- One week more than reported, so that the first reported week knows who entered.
    {{ cdp_report_weeks(var('cdp__lifecycle_report_weeks') + 1) }}
),

purchase_periods as (
    -- Each purchase is a person's latest from its time until their next purchase.
    select
        person_id,
        purchased_at as last_purchase_at,
        lag(purchased_at) over (partition by person_id order by purchased_at, purchase_id) as previous_purchase_at,
        lead(purchased_at) over (partition by person_id order by purchased_at, purchase_id) as next_purchase_at,
        min(purchased_at) over (partition by person_id) as first_purchase_at
    from purchases
),

first_purchases as (
    select
        person_id,
        min(purchased_at) as first_purchase_at
    from purchases
    group by person_id
),

prospect_periods as (
    select
        identifiers.person_id,
        min(identifiers.first_seen_at) as first_seen_at,
        min(first_purchases.first_purchase_at) as first_purchase_at
    from identifiers
    left join first_purchases on identifiers.person_id = first_purchases.person_id
    group by identifiers.person_id
),

stages as (
    select
        report_weeks.week_start,
        purchase_periods.person_id,
        {{ cdp_lifecycle_stage(
            'purchase_periods.first_purchase_at', 'purchase_periods.last_purchase_at',
            'purchase_periods.previous_purchase_at', 'report_weeks.measured_at',
        ) }} as lifecycle_stage
    from report_weeks
    inner join purchase_periods
        on report_weeks.measured_at >= purchase_periods.last_purchase_at
        and (purchase_periods.next_purchase_at is null or report_weeks.measured_at < purchase_periods.next_purchase_at)

    union all

    select
        report_weeks.week_start,
        prospect_periods.person_id,
        'prospect' as lifecycle_stage
    from report_weeks
    inner join prospect_periods
        on report_weeks.measured_at >= prospect_periods.first_seen_at
        and (
            prospect_periods.first_purchase_at is null or report_weeks.measured_at < prospect_periods.first_purchase_at
        )
),

with_previous as (
    select
        *,
        lag(lifecycle_stage) over (partition by person_id order by week_start) as previous_stage
    from stages
),

counted as (
    select
        week_start,
        lifecycle_stage,
        count(*) as persons,
        sum(case when previous_stage is null or previous_stage <> lifecycle_stage then 1 else 0 end) as persons_entered
    from with_previous
    where week_start > (select min(report_weeks.week_start) from report_weeks)
    group by week_start, lifecycle_stage
)

select
    {{ cdp_surrogate_key(['week_start', 'lifecycle_stage']) }} as week_stage_key,
    *
from counted
