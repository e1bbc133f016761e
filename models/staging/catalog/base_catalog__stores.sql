with source as (
    select * from {{ source('catalog', 'stores') }}
),

countries as (
    select country_code from {{ ref('iso_3166_countries') }}
),

typed as (
    select
        {{ cdp_source_lineage('catalog', 'stores') }},
        {{ cdp_clean_text('store_id') }} as store_id,
        {{ cdp_clean_text('name') }} as store_name,
        {{ cdp_clean_text('city') }} as city,
        {{ cdp_parse_number('latitude', min_value=-90, max_value=90) }} as latitude,
        {{ cdp_parse_number('longitude', min_value=-180, max_value=180) }} as longitude,
        {{ cdp_clean_text('latitude') }} as _raw_latitude,
        {{ cdp_clean_text('longitude') }} as _raw_longitude,
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
        {{ cdp_value_issue('latitude') }},
        {{ cdp_value_issue('longitude') }}
    from located
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['store_id'],
        checks=cdp_check_key(['store_id'])
    ) }}
)

select * from checked
