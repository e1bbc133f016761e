{#
    Every upgrade and downgrade of a loyalty card, with the card's person. Joining a
    programme at its base tier is not a change.
#}

with evaluations as (
    select * from {{ ref('int_loyalty_tiers_evaluated') }}
    where previous_tier_rank is not null and tier_rank <> previous_tier_rank
),

tiers as (
    select * from {{ ref('loyalty_tiers') }}
),

identifiers as (
    select * from {{ ref('bdg_person_identifiers') }}
    where identifier_type = 'loyalty_card_id'
),

changes as (
    select
        {{ cdp_surrogate_key(['evaluations.loyalty_card_id', 'evaluations.evaluated_at']) }} as tier_change_id,
        identifiers.person_id,
        evaluations.loyalty_card_id,
        previous_tiers.tier_name as from_tier,
        evaluations.tier_name as to_tier,
        evaluations.evaluated_at as changed_at,
        case when evaluations.tier_rank > evaluations.previous_tier_rank then 'upgrade' else 'downgrade' end
            as change_direction
    from evaluations
    inner join tiers as previous_tiers on evaluations.previous_tier_rank = previous_tiers.tier_rank
    left join identifiers on evaluations.loyalty_card_id = identifiers.identifier_value
)

select * from changes
