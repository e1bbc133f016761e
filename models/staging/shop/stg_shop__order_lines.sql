with order_lines as (
    select * from {{ ref('base_shop__order_lines') }}
    where _rejection_reason is null
)

select
    {{ cdp_surrogate_key(['order_id', 'line_number']) }} as order_line_id,
    order_id,
    line_number,
    product_id,
    quantity,
    unit_price,
    quantity * unit_price as line_amount
from order_lines
