with source as (
    select * from {{ source('messaging', 'message_events') }}
),

typed as (
    select
        {{ cdp_source_lineage('messaging', 'message_events') }},
        {{ cdp_clean_text('message_id') }} as message_id,
        lower({{ cdp_clean_text('provider') }}) as provider,
        {{ cdp_clean_enum('channel') }} as channel,
        {{ cdp_normalize_identifier(cdp_clean_enum('channel'), 'recipient') }} as recipient,
        {{ cdp_clean_text('campaign') }} as campaign,
        {{ cdp_clean_enum('event_type') }} as event_type,
        {{ cdp_parse_timestamp('occurred_at') }} as occurred_at,
        {{ cdp_clean_text('recipient') }} as _raw_recipient,
        {{ cdp_clean_text('occurred_at') }} as _raw_occurred_at
    from source
),

validated as (
    select
        *,
        {{ cdp_value_issue('recipient') }}
    from typed
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['message_id', 'event_type', 'occurred_at'],
        checks=cdp_check_key(['message_id'])
            + cdp_check_enum('channel', 'messaging', 'message_events')
            + cdp_check_enum('event_type', 'messaging', 'message_events')
            + cdp_check_required('occurred_at')
            + cdp_check_not_after_as_of('occurred_at')
    ) }}
)

select * from checked
