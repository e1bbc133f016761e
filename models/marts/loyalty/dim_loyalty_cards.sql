{#
    Each card's standing at cdp__as_of: tier (with grace), what it qualifies on now,
    how far the next tier is, points balance and points about to expire.
#}

with members as (
    select * from {{ ref('stg_loyalty__members') }}
),

evaluations as (
    select * from {{ ref('int_loyalty_tiers_evaluated') }}
),

activity as (
    select * from {{ ref('int_loyalty_qualifying_activity') }}
),

balances as (
    select * from {{ ref('int_loyalty_cards_balanced') }}
),

tiers as (
    select * from {{ ref('loyalty_tiers') }}
),

identifiers as (
    select * from {{ ref('bdg_person_identifiers') }}
    where identifier_type = 'loyalty_card_id'
),

lowest_tier_rank as (
    select min(tier_rank) as tier_rank from tiers
),

-- where every member starts
base_tier as (
    select
        tiers.tier_name,
        tiers.tier_rank
    from tiers
    inner join lowest_tier_rank on tiers.tier_rank = lowest_tier_rank.tier_rank
),

cards as (
    select loyalty_card_id from members
    union
    select loyalty_card_id from evaluations
    union
    select loyalty_card_id from balances
),

current_tier as (
    select
        loyalty_card_id,
        tier_rank,
        tier_name,
        evaluated_at as tier_since
    from (
        select
            *,
            row_number() over (partition by loyalty_card_id order by evaluated_at desc) as recency_rank
        from evaluations
    ) as ranked
    where recency_rank = 1
),

window_totals as (
    select
        loyalty_card_id,
        sum(qualifying_points) as qualifying_points,
        sum(qualifying_spend) as qualifying_spend
    from activity
    where
        occurred_at <= {{ cdp_as_of() }}
        and occurred_at > {{ dbt.dateadd('day', -var('cdp__loyalty_qualifying_window_days'), cdp_as_of()) }}
    group by loyalty_card_id
),

next_tiers as (
    select
        current_tier.loyalty_card_id,
        tiers.tier_name as next_tier,
        tiers.qualifying_points as next_tier_points,
        tiers.qualifying_spend as next_tier_spend,
        row_number() over (partition by current_tier.loyalty_card_id order by tiers.tier_rank) as distance_rank
    from current_tier
    inner join tiers on current_tier.tier_rank < tiers.tier_rank
),

standing as (
    select
        cards.loyalty_card_id,
        identifiers.person_id,
        members.crm_customer_id,
        members.member_status,
        members.enrolled_at,
        coalesce(current_tier.tier_name, base_tier.tier_name) as loyalty_tier,
        coalesce(current_tier.tier_rank, base_tier.tier_rank) as loyalty_tier_rank,
        current_tier.tier_since,
        coalesce(window_totals.qualifying_points, 0) as qualifying_points,
        coalesce(window_totals.qualifying_spend, 0) as qualifying_spend,
        next_tiers.next_tier,
        case
            when next_tiers.next_tier_points is not null
                then next_tiers.next_tier_points - coalesce(window_totals.qualifying_points, 0)
        end as points_to_next_tier,
        case
            when next_tiers.next_tier_spend is not null
                then next_tiers.next_tier_spend - coalesce(window_totals.qualifying_spend, 0)
        end as spend_to_next_tier,
        next_tiers.next_tier_points,
        next_tiers.next_tier_spend,
        coalesce(balances.points_balance, 0) as points_balance,
        coalesce(balances.points_expiring_soon, 0) as points_expiring_soon
    from cards
    left join members on cards.loyalty_card_id = members.loyalty_card_id
    left join current_tier on cards.loyalty_card_id = current_tier.loyalty_card_id
    left join window_totals on cards.loyalty_card_id = window_totals.loyalty_card_id
    left join next_tiers on cards.loyalty_card_id = next_tiers.loyalty_card_id and next_tiers.distance_rank = 1
    left join balances on cards.loyalty_card_id = balances.loyalty_card_id
    left join identifiers on cards.loyalty_card_id = identifiers.identifier_value
    cross join base_tier
),

flagged as (
    select
        *,
        coalesce(
            (
                points_to_next_tier > 0
                and points_to_next_tier <= {{ var('cdp__loyalty_near_next_tier_share') }} * next_tier_points
            )
            or (
                spend_to_next_tier > 0
                and spend_to_next_tier <= {{ var('cdp__loyalty_near_next_tier_share') }} * next_tier_spend
            ),
            false
        ) as is_near_next_tier,
        points_expiring_soon > 0 as has_points_expiring_soon
    from standing
)

select * from flagged
