with source as (
    select * from {{ source('catalog', 'products') }}
),

typed as (
    select
        {{ cdp_source_lineage('catalog', 'products') }},
        {{ cdp_clean_text('product_id') }} as product_id,
        {{ cdp_clean_text('name') }} as product_name,
        {{ cdp_clean_text('category') }} as category,
        {{ cdp_clean_text('brand') }} as brand,
        {{ cdp_try_cast('price', 'decimal(18, 2)') }} as price,
        {{ cdp_clean_text('price') }} as _raw_price
    from source
),

validated as (
    select
        *,
        {{ cdp_value_issue('price') }}
    from typed
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['product_id'],
        checks=cdp_check_key(['product_id'])
    ) }}
)

select * from checked
