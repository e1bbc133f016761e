with source as (
    select * from {{ source('web', 'web_events') }}
),

typed as (
    select
        {{ cdp_source_lineage('web', 'web_events') }},
        {{ cdp_clean_text('event_id') }} as web_event_id,
        {{ cdp_clean_text('anonymous_id') }} as anonymous_id,
        {{ cdp_clean_text('customer_id') }} as crm_customer_id,
        {{ cdp_normalize_email('email') }} as email,
        {{ cdp_clean_enum('event_type') }} as event_type,
        {{ cdp_clean_text('product_id') }} as product_id,
        {{ cdp_clean_text('order_id') }} as order_id,
        {{ cdp_try_cast('quantity', dbt.type_int()) }} as quantity,
        {{ cdp_try_cast('price', 'decimal(18, 2)') }} as price,
        {{ cdp_parse_timestamp('occurred_at') }} as occurred_at,
        {{ cdp_clean_text('page_url') }} as page_url,
        {{ cdp_clean_text('utm_source') }} as utm_source,
        {{ cdp_clean_text('utm_medium') }} as utm_medium,
        {{ cdp_clean_text('utm_campaign') }} as utm_campaign,
        {{ cdp_clean_text('email') }} as _raw_email,
        {{ cdp_clean_text('quantity') }} as _raw_quantity,
        {{ cdp_clean_text('price') }} as _raw_price,
        {{ cdp_clean_text('occurred_at') }} as _raw_occurred_at
    from source
),

validated as (
    select
        *,
        {{ cdp_value_issue('email', 'invalid_email') }},
        {{ cdp_value_issue('quantity') }},
        {{ cdp_value_issue('price') }}
    from typed
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['web_event_id'],
        checks=cdp_check_key(['web_event_id'])
            + cdp_check_enum('event_type', 'web', 'web_events')
            + cdp_check_required('occurred_at')
            + cdp_check_not_after_as_of('occurred_at')
    ) }}
)

select * from checked
