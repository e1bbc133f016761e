{#
    A card's tier at every moment it can change, up to cdp__as_of.

    Qualification: the highest tier in seeds/loyalty_tiers.csv whose points or spend
    threshold the card meets over the trailing cdp__loyalty_qualifying_window_days.
    It can change only when activity enters or leaves the window, so those are the
    moments evaluated (plus enrolment and the as-of time).

    Grace: the tier held is the highest tier qualified for at any time during the last
    cdp__loyalty_downgrade_grace_days, so an upgrade is immediate and a downgrade
    happens only after a full grace period below the threshold. That adds the moments
    at which a higher qualification ends plus the grace period.
#}

with tiers as (
    select * from {{ ref('loyalty_tiers') }}
),

activity as (
    select * from {{ ref('int_loyalty_qualifying_activity') }}
),

members as (
    select * from {{ ref('stg_loyalty__members') }}
),

cards as (
    select
        loyalty_card_id,
        min(started_at) as started_at
    from (
        select
            loyalty_card_id,
            enrolled_at as started_at
        from members
        union all
        select
            loyalty_card_id,
            min(occurred_at) as started_at
        from activity
        group by loyalty_card_id
    ) as card_starts
    group by loyalty_card_id
),

qualification_moments as (
    select
        loyalty_card_id,
        started_at as moment
    from cards
    union
    select
        loyalty_card_id,
        occurred_at
    from activity
    union
    select
        loyalty_card_id,
        {{ dbt.dateadd('day', var('cdp__loyalty_qualifying_window_days'), 'occurred_at') }}
    from activity
),

window_totals as (
    select
        qualification_moments.loyalty_card_id,
        qualification_moments.moment,
        coalesce(sum(activity.qualifying_points), 0) as window_points,
        coalesce(sum(activity.qualifying_spend), 0) as window_spend
    from qualification_moments
    left join activity
        on qualification_moments.loyalty_card_id = activity.loyalty_card_id
        and qualification_moments.moment >= activity.occurred_at
        and activity.occurred_at
        > {{ dbt.dateadd('day', -var('cdp__loyalty_qualifying_window_days'), 'qualification_moments.moment') }}
    where qualification_moments.moment <= {{ cdp_as_of() }}
    group by qualification_moments.loyalty_card_id, qualification_moments.moment
),

qualified as (
    select
        window_totals.loyalty_card_id,
        window_totals.moment as qualified_from,
        max(tiers.tier_rank) as qualified_rank
    from window_totals
    inner join tiers
        on window_totals.window_points >= tiers.qualifying_points
        or window_totals.window_spend >= tiers.qualifying_spend
        or (tiers.qualifying_points is null and tiers.qualifying_spend is null)
    group by window_totals.loyalty_card_id, window_totals.moment
),

qualification_periods as (
    select
        loyalty_card_id,
        qualified_from,
        lead(qualified_from) over (partition by loyalty_card_id order by qualified_from) as qualified_until,
        qualified_rank,
        lead(qualified_rank) over (partition by loyalty_card_id order by qualified_from) as next_qualified_rank
    from qualified
),

evaluation_moments as (
    select
        loyalty_card_id,
        qualified_from as moment
    from qualification_periods
    union
    select
        loyalty_card_id,
        {{ dbt.dateadd('day', var('cdp__loyalty_downgrade_grace_days'), 'qualified_until') }}
    from qualification_periods
    -- Only the end of a higher qualification can lower the tier held.
    where qualified_until is not null and qualified_rank > next_qualified_rank
),

held as (
    select
        evaluation_moments.loyalty_card_id,
        evaluation_moments.moment as evaluated_at,
        max(qualification_periods.qualified_rank) as tier_rank
    from evaluation_moments
    inner join qualification_periods
        on evaluation_moments.loyalty_card_id = qualification_periods.loyalty_card_id
        and evaluation_moments.moment >= qualification_periods.qualified_from
        and (
            qualification_periods.qualified_until is null
            or qualification_periods.qualified_until
            > {{ dbt.dateadd('day', -var('cdp__loyalty_downgrade_grace_days'), 'evaluation_moments.moment') }}
        )
    where evaluation_moments.moment <= {{ cdp_as_of() }}
    group by evaluation_moments.loyalty_card_id, evaluation_moments.moment
),

with_tier as (
    select
        {{ cdp_surrogate_key(['held.loyalty_card_id', 'held.evaluated_at']) }} as tier_evaluation_key,
        held.loyalty_card_id,
        held.evaluated_at,
        held.tier_rank,
        tiers.tier_name,
        lag(held.tier_rank) over (partition by held.loyalty_card_id order by held.evaluated_at) as previous_tier_rank
    from held
    inner join tiers on held.tier_rank = tiers.tier_rank
)

select * from with_tier
