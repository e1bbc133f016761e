{#
    Points balance per card at cdp__as_of, with expiry. Earned points carry an
    expires_at; the ledger may or may not already hold the matching `expire` entries.
    Burns (redemptions, recorded expiries, negative adjustments) are taken to consume
    the earliest-expiring points first, so the points lost to expiry not yet recorded
    are max(0, points expired by now - burns so far), and the points still to expire
    within cdp__loyalty_points_expiring_days are what expires by then beyond both.
#}

with entries as (
    select * from {{ ref('stg_loyalty__point_entries') }}
    where occurred_at <= {{ cdp_as_of() }}
),

totals as (
    select
        loyalty_card_id,
        sum(points) as ledger_points,
        sum(case when points < 0 then -points else 0 end) as burned_points,
        sum(case when points > 0 and expires_at <= {{ cdp_as_of() }} then points else 0 end) as expired_lot_points,
        sum(
            case
                when
                    points > 0
                    and expires_at <= {{ dbt.dateadd('day', var('cdp__loyalty_points_expiring_days'), cdp_as_of()) }}
                    then points
                else 0
            end
        ) as expiring_by_horizon_lot_points,
        min(case when points > 0 and expires_at > {{ cdp_as_of() }} then expires_at end) as next_expiry_candidate_at
    from entries
    group by loyalty_card_id
),

balanced as (
    select
        loyalty_card_id,
        ledger_points,
        case when expired_lot_points > burned_points then expired_lot_points - burned_points else 0 end
            as unrecorded_expired_points,
        case
            when
                expiring_by_horizon_lot_points
                > case when expired_lot_points > burned_points then expired_lot_points else burned_points end
                then
                    expiring_by_horizon_lot_points
                    - case when expired_lot_points > burned_points then expired_lot_points else burned_points end
            else 0
        end as points_expiring_soon
    from totals
),

final as (
    select
        loyalty_card_id,
        case
            when ledger_points - unrecorded_expired_points > 0 then ledger_points - unrecorded_expired_points else 0
        end
            as points_balance,
        unrecorded_expired_points,
        points_expiring_soon
    from balanced
)

select * from final
