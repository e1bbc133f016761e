{#
    Every purchase of a known person up to cdp__as_of, as journeys see it: whether it is
    completed (an online order delivered, or a store receipt: what a feedback request
    is about), its number in the person's purchase history (counted as dim_persons
    counts purchases: fully returned ones do not count), and its products.
#}

with purchases as (
    select * from {{ ref('fct_purchases') }}
    where
        person_id is not null
        and purchased_at <= {{ cdp_as_of() }}
),

orders as (
    select * from {{ ref('stg_shop__orders') }}
),

purchased_products as (
    select * from {{ ref('int_journey_purchased_products') }}
),

numbered as (
    select
        purchase_id,
        row_number() over (partition by person_id order by purchased_at, purchase_id) as purchase_number
    from purchases
    where not is_fully_returned
),

product_lists as (
    select
        purchase_id,
        {{ cdp_sorted_string_agg('product_id', ',') }} as product_ids
    from purchased_products
    group by purchase_id
),

final as (
    select
        purchases.purchase_id,
        purchases.person_id,
        purchases.purchased_at,
        purchases.channel as purchase_channel,
        case
            when purchases.channel = 'store' then true
            else coalesce(orders.order_status = 'delivered', false)
        end as is_completed,
        numbered.purchase_number,
        product_lists.product_ids
    from purchases
    left join orders on purchases.order_id = orders.order_id
    left join numbered on purchases.purchase_id = numbered.purchase_id
    left join product_lists on purchases.purchase_id = product_lists.purchase_id
)

select * from final
