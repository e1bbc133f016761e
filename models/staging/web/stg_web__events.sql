with events as (
    select * from {{ ref('base_web__events') }}
    where _rejection_reason is null
)

select
    web_event_id,
    anonymous_id,
    crm_customer_id,
    email,
    event_type,
    product_id,
    order_id,
    quantity,
    price,
    occurred_at,
    page_url,
    utm_source,
    utm_medium,
    utm_campaign
from events
