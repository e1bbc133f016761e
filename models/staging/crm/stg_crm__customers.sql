with customers as (
    select * from {{ ref('base_crm__customers') }}
    where _rejection_reason is null
)

select
    crm_customer_id,
    email,
    phone,
    first_name,
    last_name,
    birth_date,
    street,
    city,
    postal_code,
    country_code,
    created_at,
    coalesce(updated_at, created_at) as updated_at
from customers
