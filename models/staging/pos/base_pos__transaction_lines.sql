with source as (
    select * from {{ source('pos', 'pos_lines') }}
),

typed as (
    select
        {{ cdp_source_lineage('pos', 'pos_lines') }},
        {{ cdp_clean_text('receipt_id') }} as receipt_id,
        {{ cdp_try_cast('line_number', dbt.type_int()) }} as line_number,
        {{ cdp_clean_text('product_id') }} as product_id,
        {{ cdp_try_cast('quantity', dbt.type_int()) }} as quantity,
        {{ cdp_try_cast('unit_price', 'decimal(18, 2)') }} as unit_price,
        {{ cdp_clean_text('quantity') }} as _raw_quantity,
        {{ cdp_clean_text('unit_price') }} as _raw_unit_price
    from source
),

checked as (
    {{ cdp_reject_bad_rows(
        'typed',
        key_columns=['receipt_id', 'line_number'],
        checks=cdp_check_key(['receipt_id', 'line_number'])
            + cdp_check_required('quantity')
            + cdp_check_required('unit_price')
            + cdp_check_range('unit_price', min_value=0)
    ) }}
)

select * from checked
