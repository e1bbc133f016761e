with transactions as (
    select * from {{ ref('base_pos__transactions') }}
    where _rejection_reason is null
)

select
    receipt_id,
    store_id,
    loyalty_card_id,
    email,
    phone,
    payment_fingerprint,
    transacted_at,
    transaction_type,
    currency,
    total_amount
from transactions
