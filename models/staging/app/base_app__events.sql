with source as (
    select * from {{ source('app', 'app_events') }}
),

typed as (
    select
        {{ cdp_source_lineage('app', 'app_events') }},
        {{ cdp_clean_text('event_id') }} as app_event_id,
        {{ cdp_clean_text('device_id') }} as device_id,
        {{ cdp_clean_text('customer_id') }} as crm_customer_id,
        {{ cdp_clean_text('push_token') }} as push_token,
        {{ cdp_clean_enum('platform') }} as platform,
        {{ cdp_clean_enum('event_type') }} as event_type,
        {{ cdp_clean_text('product_id') }} as product_id,
        {{ cdp_clean_text('order_id') }} as order_id,
        {{ cdp_clean_text('store_id') }} as store_id,
        {{ cdp_parse_timestamp('occurred_at') }} as occurred_at,
        {{ cdp_clean_text('occurred_at') }} as _raw_occurred_at
    from source
),

checked as (
    {{ cdp_reject_bad_rows(
        'typed',
        key_columns=['app_event_id'],
        checks=cdp_check_key(['app_event_id'])
            + cdp_check_enum('event_type', 'app', 'app_events')
            + cdp_check_enum('platform', 'app', 'app_events', required=false)
            + cdp_check_required('occurred_at')
            + cdp_check_not_after_as_of('occurred_at')
    ) }}
)

select * from checked
