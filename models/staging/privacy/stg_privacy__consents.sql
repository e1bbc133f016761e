with consents as (
    select * from {{ ref('base_privacy__consents') }}
    where _rejection_reason is null
)

select
    {{ cdp_surrogate_key(['subject_type', 'subject_value', 'channel', 'purpose', 'recorded_at']) }} as consent_event_id,
    subject_type,
    subject_value,
    channel,
    purpose,
    consent_status,
    recorded_at,
    consent_source
from consents
