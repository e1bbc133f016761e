with source as (
    select * from {{ source('crm', 'crm_customers') }}
),

countries as (
    select country_code from {{ ref('iso_3166_countries') }}
),

typed as (
    select
        {{ cdp_source_lineage('crm', 'crm_customers') }},
        {{ cdp_clean_text('customer_id') }} as crm_customer_id,
        {{ cdp_normalize_email('email') }} as email,
        {{ cdp_normalize_phone('phone', 'country') }} as phone,
        {{ cdp_clean_text('first_name') }} as first_name,
        {{ cdp_clean_text('last_name') }} as last_name,
        {{ cdp_parse_date('birth_date', latest='cast(' ~ cdp_as_of() ~ ' as date)') }} as birth_date,
        {{ cdp_clean_text('street') }} as street,
        {{ cdp_clean_text('city') }} as city,
        {{ cdp_clean_text('postal_code') }} as postal_code,
        {{ cdp_parse_timestamp('created_at') }} as created_at,
        {{ cdp_parse_event_time('updated_at') }} as updated_at,
        {{ cdp_clean_text('email') }} as _raw_email,
        {{ cdp_clean_text('phone') }} as _raw_phone,
        {{ cdp_clean_text('birth_date') }} as _raw_birth_date,
        {{ cdp_clean_text('created_at') }} as _raw_created_at,
        {{ cdp_clean_text('updated_at') }} as _raw_updated_at,
        upper({{ cdp_clean_text('country') }}) as _raw_country_code
    from source
),

located as (
    select
        typed.*,
        countries.country_code
    from typed
    left join countries on typed._raw_country_code = countries.country_code
),

validated as (
    select
        *,
        {{ cdp_value_issue('country_code') }},
        {{ cdp_value_issue('email', 'invalid_email') }},
        {{ cdp_value_issue('phone', 'invalid_phone') }},
        {{ cdp_value_issue('birth_date') }},
        {{ cdp_value_issue('updated_at') }}
    from located
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['crm_customer_id'],
        checks=cdp_check_key(['crm_customer_id'])
            + cdp_check_required('created_at')
            + cdp_check_not_after_as_of('created_at'),
        keep_first_by='updated_at desc nulls last'
    ) }}
)

select * from checked
