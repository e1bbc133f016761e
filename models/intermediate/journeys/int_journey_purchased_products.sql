{#
    What each purchase of fct_purchases held, product by product: the lines of the online
    order or of the store receipt. Journey goals ("bought one of the cart's products,
    on any channel") and the purchases' product lists read it.
#}

with purchases as (
    select * from {{ ref('fct_purchases') }}
    where
        person_id is not null
        and purchased_at <= {{ cdp_as_of() }}
),

order_lines as (
    select * from {{ ref('stg_shop__order_lines') }}
),

receipt_lines as (
    select * from {{ ref('stg_pos__transaction_lines') }}
),

lines as (
    select
        purchases.purchase_id,
        purchases.person_id,
        purchases.purchased_at,
        order_lines.product_id,
        order_lines.quantity
    from purchases
    inner join order_lines on purchases.order_id = order_lines.order_id
    union all
    select
        purchases.purchase_id,
        purchases.person_id,
        purchases.purchased_at,
        receipt_lines.product_id,
        receipt_lines.quantity
    from purchases
    inner join receipt_lines on purchases.receipt_id = receipt_lines.receipt_id
),

final as (
    select
        {{ cdp_surrogate_key(['purchase_id', 'product_id']) }} as purchased_product_id,
        purchase_id,
        person_id,
        purchased_at,
        product_id,
        sum(quantity) as quantity
    from lines
    where product_id is not null
    group by purchase_id, person_id, purchased_at, product_id
)

select * from final
