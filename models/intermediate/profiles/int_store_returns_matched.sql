{#
    Every store return receipt and the purchase it is netted against. The raw contract
    has no link from a return to its sale, so the link is inferred: the same person's
    most recent earlier purchase (online or in store, not cancelled, at most
    cdp__profiles_return_window_days before the return) that holds one of the returned
    products. A return receipt without lines falls back to the most recent purchase
    whose amount covers the refund. A return that matches nothing (a gift, a purchase
    from before the data starts, an anonymous return) is kept with no purchase. The
    return's person is the one identity gives the receipt (int_identity_source_row_persons).
#}

with store_returns as (
    select * from {{ ref('stg_pos__transactions') }}
    where transaction_type = 'return'
),

receipt_persons as (
    {{ cdp_source_row_persons('stg_pos__transactions') }}
),

returns_attributed as (
    select
        store_returns.*,
        receipt_persons.person_id
    from store_returns
    left join receipt_persons on store_returns.receipt_id = receipt_persons.source_key
),

purchases as (
    select * from {{ ref('int_purchases_attributed') }}
    where not is_cancelled and person_id is not null
),

pos_lines as (
    select * from {{ ref('stg_pos__transaction_lines') }}
),

order_lines as (
    select * from {{ ref('stg_shop__order_lines') }}
),

returned_products as (
    select distinct
        receipt_id,
        product_id
    from pos_lines
    where product_id is not null
),

purchased_products as (
    select distinct
        purchases.purchase_id,
        order_lines.product_id
    from purchases
    inner join order_lines on purchases.order_id = order_lines.order_id
    where order_lines.product_id is not null
    union
    select distinct
        purchases.purchase_id,
        pos_lines.product_id
    from purchases
    inner join pos_lines on purchases.receipt_id = pos_lines.receipt_id
    where pos_lines.product_id is not null
),

candidates_in_window as (
    select
        returns_attributed.receipt_id,
        purchases.purchase_id,
        purchases.purchased_at,
        purchases.gross_amount,
        returns_attributed.total_amount as return_amount
    from returns_attributed
    inner join purchases
        on returns_attributed.person_id = purchases.person_id
        and returns_attributed.transacted_at >= purchases.purchased_at
        and purchases.purchased_at
        >= {{ dbt.dateadd('day', -var('cdp__profiles_return_window_days'), 'returns_attributed.transacted_at') }}
),

matched_by_product as (
    select distinct
        candidates_in_window.receipt_id,
        candidates_in_window.purchase_id,
        candidates_in_window.purchased_at,
        'product' as match_method
    from candidates_in_window
    inner join returned_products on candidates_in_window.receipt_id = returned_products.receipt_id
    inner join purchased_products
        on candidates_in_window.purchase_id = purchased_products.purchase_id
        and returned_products.product_id = purchased_products.product_id
),

matched_by_amount as (
    select
        candidates_in_window.receipt_id,
        candidates_in_window.purchase_id,
        candidates_in_window.purchased_at,
        'amount' as match_method
    from candidates_in_window
    where
        candidates_in_window.gross_amount >= candidates_in_window.return_amount
        and not exists (
            select 1 from returned_products
            where returned_products.receipt_id = candidates_in_window.receipt_id
        )
),

ranked as (
    select
        *,
        row_number() over (partition by receipt_id order by purchased_at desc, purchase_id desc) as recency_rank
    from (
        select * from matched_by_product
        union all
        select * from matched_by_amount
    ) as matches
),

matched as (
    select
        returns_attributed.receipt_id,
        returns_attributed.person_id,
        returns_attributed.transacted_at as returned_at,
        returns_attributed.store_id,
        returns_attributed.total_amount as return_amount,
        ranked.purchase_id as matched_purchase_id,
        coalesce(ranked.match_method, 'unmatched') as match_method
    from returns_attributed
    left join ranked
        on returns_attributed.receipt_id = ranked.receipt_id
        and ranked.recency_rank = 1
)

select * from matched
