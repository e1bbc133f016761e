with source as (
    select * from {{ source('pos', 'pos_transactions') }}
),

typed as (
    select
        {{ cdp_source_lineage('pos', 'pos_transactions') }},
        {{ cdp_clean_text('receipt_id') }} as receipt_id,
        {{ cdp_clean_text('store_id') }} as store_id,
        {{ cdp_clean_text('loyalty_card_id') }} as loyalty_card_id,
        {{ cdp_normalize_email('email') }} as email,
        {{ cdp_normalize_phone('phone') }} as phone,
        {{ cdp_clean_text('payment_fingerprint') }} as payment_fingerprint,
        {{ cdp_parse_timestamp('transacted_at') }} as transacted_at,
        {{ cdp_clean_enum('type') }} as transaction_type,
        upper({{ cdp_clean_text('currency') }}) as currency,
        {{ cdp_try_cast('total_amount', 'decimal(18, 2)') }} as total_amount,
        {{ cdp_clean_text('email') }} as _raw_email,
        {{ cdp_clean_text('phone') }} as _raw_phone,
        {{ cdp_clean_text('transacted_at') }} as _raw_transacted_at,
        {{ cdp_clean_text('total_amount') }} as _raw_total_amount
    from source
),

validated as (
    select
        *,
        {{ cdp_value_issue('email', 'invalid_email') }},
        {{ cdp_value_issue('phone', 'invalid_phone') }}
    from typed
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['receipt_id'],
        checks=cdp_check_key(['receipt_id'])
            + cdp_check_required('transacted_at')
            + cdp_check_enum('transaction_type', 'pos', 'pos_transactions', 'type')
            + cdp_check_required('total_amount')
            + cdp_check_range('total_amount', min_value=0)
            + cdp_check_not_after_as_of('transacted_at')
    ) }}
)

select * from checked
