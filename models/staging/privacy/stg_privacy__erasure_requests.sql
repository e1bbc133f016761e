with erasure_requests as (
    select * from {{ ref('base_privacy__erasure_requests') }}
    where _rejection_reason is null
)

select
    {{ cdp_surrogate_key(['subject_type', 'subject_value', 'requested_at']) }} as erasure_request_id,
    subject_type,
    subject_value,
    requested_at
from erasure_requests
