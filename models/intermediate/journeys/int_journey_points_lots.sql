{#
    Lots of loyalty points that still hold points and expire after cdp__as_of, within
    cdp__journey_points_expiring_horizon_days. A lot is one earning entry of the ledger;
    burns (redemptions, recorded expiries, negative adjustments) consume the
    earliest-expiring lots first, as int_loyalty_cards_balanced counts the balance, so
    a lot's remaining points are what the burns so far have not reached.
#}

with entries as (
    select * from {{ ref('stg_loyalty__point_entries') }}
    where occurred_at <= {{ cdp_as_of() }}
),

identifiers as (
    select * from {{ ref('bdg_person_identifiers') }}
    where identifier_type = 'loyalty_card_id'
),

lots as (
    select
        loyalty_point_entry_id as lot_id,
        loyalty_card_id,
        occurred_at as earned_at,
        expires_at,
        points
    from entries
    where points > 0 and expires_at is not null
),

burns as (
    select
        loyalty_card_id,
        sum(-points) as burned_points
    from entries
    where points < 0
    group by loyalty_card_id
),

consumed as (
    select
        lots.*,
        coalesce(burns.burned_points, 0) as burned_points,
        -- neither key is null (lots have an expiry and an id); `nulls first` only keeps the
        -- running sum transpilable to warehouses whose default null order differs
        sum(lots.points) over (
            partition by lots.loyalty_card_id order by lots.expires_at nulls first, lots.lot_id nulls first
            rows between unbounded preceding and current row
        ) as points_through_lot
    from lots
    left join burns on lots.loyalty_card_id = burns.loyalty_card_id
),

remaining as (
    select
        *,
        least(points, greatest(points_through_lot - burned_points, 0)) as points_remaining
    from consumed
),

final as (
    select
        remaining.lot_id,
        remaining.loyalty_card_id,
        identifiers.person_id,
        remaining.earned_at,
        remaining.expires_at,
        remaining.points as points_earned,
        remaining.points_remaining
    from remaining
    inner join identifiers on remaining.loyalty_card_id = identifiers.identifier_value
    where
        remaining.points_remaining > 0
        and remaining.expires_at > {{ cdp_as_of() }}
        and remaining.expires_at
        <= {{ dbt.dateadd('day', var('cdp__journey_points_expiring_horizon_days'), cdp_as_of()) }}
)

select * from final
