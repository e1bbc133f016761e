with transaction_lines as (
    select * from {{ ref('base_pos__transaction_lines') }}
    where _rejection_reason is null
)

select
    {{ cdp_surrogate_key(['receipt_id', 'line_number']) }} as pos_line_id,
    receipt_id,
    line_number,
    product_id,
    quantity,
    unit_price,
    quantity * unit_price as line_amount
from transaction_lines
