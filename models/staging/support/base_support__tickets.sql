with source as (
    select * from {{ source('support', 'support_tickets') }}
),

typed as (
    select
        {{ cdp_source_lineage('support', 'support_tickets') }},
        {{ cdp_clean_text('ticket_id') }} as ticket_id,
        {{ cdp_clean_text('customer_id') }} as crm_customer_id,
        {{ cdp_normalize_email('email') }} as email,
        {{ cdp_normalize_phone('phone') }} as phone,
        {{ cdp_parse_timestamp('opened_at') }} as opened_at,
        {{ cdp_parse_event_time('closed_at') }} as closed_at,
        {{ cdp_clean_enum('status') }} as ticket_status,
        {{ cdp_clean_text('topic') }} as topic,
        case
            when {{ cdp_try_cast('csat_score', dbt.type_int()) }} between 1 and 5
                then {{ cdp_try_cast('csat_score', dbt.type_int()) }}
        end as csat_score,
        {{ cdp_clean_text('email') }} as _raw_email,
        {{ cdp_clean_text('phone') }} as _raw_phone,
        {{ cdp_clean_text('opened_at') }} as _raw_opened_at,
        {{ cdp_clean_text('closed_at') }} as _raw_closed_at,
        {{ cdp_clean_text('csat_score') }} as _raw_csat_score
    from source
),

validated as (
    select
        *,
        {{ cdp_value_issue('email', 'invalid_email') }},
        {{ cdp_value_issue('phone', 'invalid_phone') }},
        {{ cdp_value_issue('closed_at') }},
        {{ cdp_value_issue('csat_score') }}
    from typed
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['ticket_id'],
        checks=cdp_check_key(['ticket_id'])
            + cdp_check_required('opened_at')
            + cdp_check_enum('ticket_status', 'support', 'support_tickets', 'status')
            + cdp_check_not_after_as_of('opened_at')
    ) }}
)

select * from checked
