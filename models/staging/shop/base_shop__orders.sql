with source as (
    select * from {{ source('shop', 'orders') }}
),

typed as (
    select
        {{ cdp_source_lineage('shop', 'orders') }},
        {{ cdp_clean_text('order_id') }} as order_id,
        {{ cdp_clean_text('customer_id') }} as crm_customer_id,
        {{ cdp_normalize_email('email') }} as email,
        {{ cdp_normalize_phone('phone') }} as phone,
        {{ cdp_clean_text('anonymous_id') }} as anonymous_id,
        {{ cdp_clean_enum('channel') }} as channel,
        {{ cdp_parse_timestamp('ordered_at') }} as ordered_at,
        {{ cdp_clean_enum('status') }} as order_status,
        upper({{ cdp_clean_text('currency') }}) as currency,
        {{ cdp_try_cast('total_amount', 'decimal(18, 2)') }} as total_amount,
        {{ cdp_try_cast('discount_amount', 'decimal(18, 2)') }} as discount_amount,
        {{ cdp_clean_text('coupon_code') }} as coupon_code,
        {{ cdp_clean_text('email') }} as _raw_email,
        {{ cdp_clean_text('phone') }} as _raw_phone,
        {{ cdp_clean_text('ordered_at') }} as _raw_ordered_at,
        {{ cdp_clean_text('total_amount') }} as _raw_total_amount,
        {{ cdp_clean_text('discount_amount') }} as _raw_discount_amount
    from source
),

validated as (
    select
        *,
        {{ cdp_value_issue('email', 'invalid_email') }},
        {{ cdp_value_issue('phone', 'invalid_phone') }},
        {{ cdp_value_issue('discount_amount') }}
    from typed
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['order_id'],
        checks=cdp_check_key(['order_id'])
            + cdp_check_enum('channel', 'shop', 'orders')
            + cdp_check_required('ordered_at')
            + cdp_check_enum('order_status', 'shop', 'orders', 'status')
            + cdp_check_required('total_amount')
            + cdp_check_range('total_amount', min_value=0)
            + cdp_check_not_after_as_of('ordered_at')
    ) }}
)

select * from checked
