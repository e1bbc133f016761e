with members as (
    select * from {{ ref('base_loyalty__members') }}
    where _rejection_reason is null
)

select
    loyalty_card_id,
    crm_customer_id,
    email,
    phone,
    enrolled_at,
    member_status
from members
