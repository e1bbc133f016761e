with source as (
    select * from {{ source('catalog', 'stores') }}
),

typed as (
    select
        {{ cdp_source_lineage('catalog', 'stores') }},
        {{ cdp_clean_text('store_id') }} as store_id,
        {{ cdp_clean_text('name') }} as store_name,
        {{ cdp_clean_text('city') }} as city,
        upper({{ cdp_clean_text('country') }}) as country_code,
        {{ cdp_try_cast('latitude', 'double') }} as latitude,
        {{ cdp_try_cast('longitude', 'double') }} as longitude,
        {{ cdp_clean_text('latitude') }} as _raw_latitude,
        {{ cdp_clean_text('longitude') }} as _raw_longitude
    from source
),

validated as (
    select
        *,
        {{ cdp_value_issue('latitude') }},
        {{ cdp_value_issue('longitude') }}
    from typed
),

checked as (
    {{ cdp_reject_bad_rows(
        'validated',
        key_columns=['store_id'],
        checks=cdp_check_key(['store_id'])
    ) }}
)

select * from checked
