with events as (
    select * from {{ ref('base_app__events') }}
    where _rejection_reason is null
)

select
    app_event_id,
    device_id,
    crm_customer_id,
    push_token,
    platform,
    event_type,
    product_id,
    order_id,
    store_id,
    occurred_at
from events
