with tickets as (
    select * from {{ ref('base_support__tickets') }}
    where _rejection_reason is null
)

select
    ticket_id,
    crm_customer_id,
    email,
    phone,
    opened_at,
    closed_at,
    ticket_status,
    topic,
    csat_score
from tickets
