{#
    Everything that counts towards a card's tier: points earned for the reasons in
    cdp__loyalty_qualifying_reasons (redemptions and expiry do not lower status) and the
    spend on store receipts the card was scanned on (returns count negative).
#}

with point_entries as (
    select * from {{ ref('stg_loyalty__point_entries') }}
),

receipts as (
    select * from {{ ref('stg_pos__transactions') }}
    where loyalty_card_id is not null
),

earned_points as (
    select
        loyalty_point_entry_id as activity_id,
        loyalty_card_id,
        occurred_at,
        points as qualifying_points,
        cast(0 as decimal(18, 2)) as qualifying_spend
    from point_entries
    where
        points > 0
        and reason in (
            {%- for reason in var('cdp__loyalty_qualifying_reasons') %}
                '{{ reason }}'{{ ',' if not loop.last }}
            {%- endfor %}
        )
),

card_spend as (
    select
        {{ dbt.concat(["'receipt-'", 'receipt_id']) }} as activity_id,
        loyalty_card_id,
        transacted_at as occurred_at,
        0 as qualifying_points,
        case when transaction_type = 'return' then -total_amount else total_amount end as qualifying_spend
    from receipts
),

unioned as (
    select * from earned_points
    union all
    select * from card_spend
)

select * from unioned
