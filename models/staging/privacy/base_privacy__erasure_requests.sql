with source as (
    select * from {{ source('privacy', 'erasure_requests') }}
),

typed as (
    select
        {{ cdp_source_lineage('privacy', 'erasure_requests') }},
        {{ cdp_clean_enum('subject_type') }} as subject_type,
        {{ cdp_normalize_identifier(cdp_clean_enum('subject_type'), 'subject_value') }} as subject_value,
        {{ cdp_parse_timestamp('requested_at') }} as requested_at,
        {{ cdp_clean_text('subject_value') }} as _raw_subject_value,
        {{ cdp_clean_text('requested_at') }} as _raw_requested_at
    from source
),

checked as (
    {{ cdp_reject_bad_rows(
        'typed',
        key_columns=['subject_type', 'subject_value', 'requested_at'],
        checks=cdp_check_enum('subject_type', 'privacy', 'erasure_requests')
            + [('_raw_subject_value is null', 'missing_required_value', 'subject_value'),
               ('subject_value is null', 'invalid_subject_value', 'subject_value')]
            + cdp_check_required('requested_at')
            + cdp_check_not_after_as_of('requested_at')
    ) }}
)

select * from checked
