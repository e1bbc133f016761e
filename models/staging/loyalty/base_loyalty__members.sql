with source as (
    select * from {{ source('loyalty', 'loyalty_members') }}
),

typed as (
    select
        {{ cdp_source_lineage('loyalty', 'loyalty_members') }},
        {{ cdp_clean_text('loyalty_card_id') }} as loyalty_card_id,
        {{ cdp_clean_text('customer_id') }} as crm_customer_id,
        {{ cdp_normalize_email('email') }} as email,
        {{ cdp_normalize_phone('phone') }} as phone,
        {{ cdp_parse_timestamp('enrolled_at') }} as enrolled_at,
        {{ cdp_clean_enum('status') }} as member_status,
        {{ cdp_clean_text('email') }} as _raw_email,
        {{ cdp_clean_text('phone') }} as _raw_phone,
        {{ cdp_clean_text('enrolled_at') }} as _raw_enrolled_at
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
        key_columns=['loyalty_card_id'],
        checks=cdp_check_key(['loyalty_card_id'])
            + cdp_check_required('enrolled_at')
            + cdp_check_enum('member_status', 'loyalty', 'loyalty_members', 'status')
            + cdp_check_not_after_as_of('enrolled_at'),
        keep_first_by='enrolled_at desc'
    ) }}
)

select * from checked
