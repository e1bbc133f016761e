with products as (
    select * from {{ ref('base_catalog__products') }}
    where _rejection_reason is null
)

select
    product_id,
    product_name,
    category,
    brand,
    price
from products
