with responses as (
    select * from {{ ref('base_surveys__responses') }}
    where _rejection_reason is null
)

select
    survey_response_id,
    crm_customer_id,
    email,
    nps_score,
    comment,
    responded_at
from responses
