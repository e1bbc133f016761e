{#
    Net of returns. Store return receipts are netted against the purchase
    int_store_returns_matched links them to (an online order returned in a store
    included), never below zero. An online order with status `returned` and no matched
    store return is taken as refunded in full; when store returns are matched to it,
    they say how much came back (the shop marks an order `returned` when part of it is
    returned in a store too).
#}

with purchases as (
    select * from {{ ref('int_purchases_attributed') }}
    where not is_cancelled
),

store_returns as (
    select
        matched_purchase_id as purchase_id,
        sum(return_amount) as store_returned_amount,
        count(*) as store_return_count
    from {{ ref('int_store_returns_matched') }}
    where matched_purchase_id is not null
    group by matched_purchase_id
),

netted as (
    select
        purchases.purchase_id,
        purchases.person_id,
        purchases.channel,
        purchases.purchased_at,
        purchases.order_id,
        purchases.receipt_id,
        purchases.currency,
        purchases.gross_amount,
        case
            when store_returns.store_returned_amount is not null
                then least(purchases.gross_amount, store_returns.store_returned_amount)
            when purchases.is_returned_online then purchases.gross_amount
            else 0
        end as returned_amount,
        purchases.is_returned_online,
        coalesce(store_returns.store_return_count, 0) as store_return_count
    from purchases
    left join store_returns on purchases.purchase_id = store_returns.purchase_id
),

final as (
    select
        purchase_id,
        person_id,
        channel,
        purchased_at,
        gross_amount - returned_amount as net_amount,
        gross_amount,
        returned_amount,
        returned_amount > 0 and returned_amount >= gross_amount as is_fully_returned,
        is_returned_online,
        store_return_count,
        order_id,
        receipt_id,
        currency
    from netted
)

select * from final
