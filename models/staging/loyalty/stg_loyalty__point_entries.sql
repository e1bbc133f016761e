with entries as (
    select * from {{ ref('base_loyalty__point_entries') }}
    where _rejection_reason is null
)

select
    loyalty_point_entry_id,
    loyalty_card_id,
    points,
    reason,
    occurred_at,
    expires_at
from entries
