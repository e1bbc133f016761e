with stores as (
    select * from {{ ref('base_catalog__stores') }}
    where _rejection_reason is null
)

select
    store_id,
    store_name,
    city,
    country_code,
    latitude,
    longitude
from stores
