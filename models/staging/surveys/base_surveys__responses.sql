with source as (
    select * from {{ source('surveys', 'survey_responses') }}
),

typed as (
    select
        {{ cdp_source_lineage('surveys', 'survey_responses') }},
        {{ cdp_clean_text('response_id') }} as survey_response_id,
        {{ cdp_clean_text('customer_id') }} as crm_customer_id,
        {{ cdp_normalize_email('email') }} as email,
        {{ cdp_try_cast('score', dbt.type_int()) }} as nps_score,
        {{ cdp_clean_text('comment') }} as comment,
        {{ cdp_parse_timestamp('responded_at') }} as responded_at,
        {{ cdp_clean_text('email') }} as _raw_email,
        {{ cdp_clean_text('score') }} as _raw_nps_score,
        {{ cdp_clean_text('responded_at') }} as _raw_responded_at
    from source
),

validated as (
    select
        *,
        {{ cdp_value_issue('email', 'invalid_email') }}
    from typed
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['survey_response_id'],
        checks=cdp_check_key(['survey_response_id'])
            + cdp_check_required('nps_score')
            + cdp_check_range('nps_score', min_value=0, max_value=10)
            + cdp_check_required('responded_at')
            + cdp_check_not_after_as_of('responded_at')
    ) }}
)

select * from checked
