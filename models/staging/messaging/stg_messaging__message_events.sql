with message_events as (
    select * from {{ ref('base_messaging__message_events') }}
    where _rejection_reason is null
)

select
    {{ cdp_surrogate_key(['message_id', 'event_type', 'occurred_at']) }} as message_event_id,
    message_id,
    provider,
    channel,
    recipient,
    campaign,
    event_type,
    occurred_at
from message_events
