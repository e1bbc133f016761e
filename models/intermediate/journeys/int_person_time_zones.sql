{#
    The time zone the plan uses for each person (quiet hours, local days of the
    frequency cap), from the first of: the person's country (golden record), their
    phone's country (its calling code, seeds/journeys/calling_code_countries), the
    country of their home store (int_person_stores: the store they visited most), else
    var cdp__default_time_zone. Countries map to one IANA zone each
    (seeds/journeys/country_time_zones).
#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

country_time_zones as (
    select * from {{ ref('country_time_zones') }}
),

calling_codes as (
    select * from {{ ref('calling_code_countries') }}
),

person_stores as (
    select * from {{ ref('int_person_stores') }}
),

-- Calling codes are prefix-free (ITU E.164): at most one of the three lengths matches.
phone_countries as (
    select
        persons.person_id,
        coalesce(three_digit_codes.country_code, two_digit_codes.country_code, one_digit_codes.country_code)
            as country_code
    from persons
    left join calling_codes as one_digit_codes on one_digit_codes.calling_code = substr(persons.phone, 2, 1)
    left join calling_codes as two_digit_codes on two_digit_codes.calling_code = substr(persons.phone, 2, 2)
    left join calling_codes as three_digit_codes on three_digit_codes.calling_code = substr(persons.phone, 2, 3)
    where persons.phone is not null
),

resolved as (
    select
        persons.person_id,
        coalesce(
            person_zones.time_zone, phone_zones.time_zone, store_zones.time_zone, '{{ var('cdp__default_time_zone') }}'
        ) as time_zone,
        case
            when person_zones.time_zone is not null then 'country'
            when phone_zones.time_zone is not null then 'phone'
            when store_zones.time_zone is not null then 'home_store'
            else 'default'
        end as time_zone_source
    from persons
    left join country_time_zones as person_zones on persons.country_code = person_zones.country_code
    left join phone_countries on persons.person_id = phone_countries.person_id
    left join country_time_zones as phone_zones on phone_countries.country_code = phone_zones.country_code
    left join person_stores on persons.person_id = person_stores.person_id
    left join country_time_zones as store_zones on person_stores.home_store_country_code = store_zones.country_code
)

select * from resolved
