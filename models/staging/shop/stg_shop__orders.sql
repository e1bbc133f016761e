with orders as (
    select * from {{ ref('base_shop__orders') }}
    where _rejection_reason is null
)

select
    order_id,
    crm_customer_id,
    email,
    phone,
    anonymous_id,
    channel,
    ordered_at,
    order_status,
    currency,
    total_amount,
    coalesce(discount_amount, 0) as discount_amount,
    coupon_code
from orders
