with source as (
    select * from {{ source('privacy', 'consents') }}
),

typed as (
    select
        {{ cdp_source_lineage('privacy', 'consents') }},
        {{ cdp_clean_enum('subject_type') }} as subject_type,
        {{ cdp_normalize_identifier(cdp_clean_enum('subject_type'), 'subject_value') }} as subject_value,
        {{ cdp_clean_enum('channel') }} as channel,
        {{ cdp_clean_enum('purpose') }} as purpose,
        {{ cdp_clean_enum('status') }} as consent_status,
        {{ cdp_parse_timestamp('recorded_at') }} as recorded_at,
        {{ cdp_clean_text('source') }} as consent_source,
        {{ cdp_clean_text('subject_value') }} as _raw_subject_value,
        {{ cdp_clean_text('recorded_at') }} as _raw_recorded_at
    from source
),

checked as (
    {#- Two different events for the same subject, channel, purpose and instant: the
        revocation is kept, so that a conflict never sends a message. -#}
    {{ cdp_reject_bad_rows(
        'typed',
        key_columns=['subject_type', 'subject_value', 'channel', 'purpose', 'recorded_at'],
        checks=cdp_check_enum('subject_type', 'privacy', 'consents')
            + [('_raw_subject_value is null', 'missing_required_value', 'subject_value'),
               ('subject_value is null', 'invalid_subject_value', 'subject_value')]
            + cdp_check_enum('channel', 'privacy', 'consents')
            + cdp_check_enum('purpose', 'privacy', 'consents')
            + cdp_check_enum('consent_status', 'privacy', 'consents', 'status')
            + cdp_check_required('recorded_at')
            + cdp_check_not_after_as_of('recorded_at'),
        keep_first_by="case when consent_status = 'revoked' then 0 else 1 end"
    ) }}
)

select * from checked
