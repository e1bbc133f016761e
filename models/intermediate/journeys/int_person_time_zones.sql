{#
    The time zone the plan uses for each person (quiet hours, local days of the
    frequency cap), from the first of: the person's country (golden record), their
    phone's country (its calling code, seeds/journeys/calling_code_countries), the
    country of their home store (the store they visited most: receipts and app store
    visits), else var cdp__default_time_zone. Countries map to one IANA zone each
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

purchases as (
    select * from {{ ref('fct_purchases') }}
    where receipt_id is not null and person_id is not null
),

receipts as (
    select * from {{ ref('stg_pos__transactions') }}
),

app_events as (
    select * from {{ ref('stg_app__events') }}
    where event_type = 'store_visit' and store_id is not null
),

source_row_persons as (
    select * from {{ ref('int_identity_source_row_persons') }}
    where source_model = 'stg_app__events'
),

stores as (
    select * from {{ ref('stg_catalog__stores') }}
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

store_visits as (
    select
        purchases.person_id,
        receipts.store_id,
        purchases.purchased_at as visited_at
    from purchases
    inner join receipts on purchases.receipt_id = receipts.receipt_id
    union all
    select
        source_row_persons.person_id,
        app_events.store_id,
        app_events.occurred_at as visited_at
    from app_events
    inner join source_row_persons on app_events.app_event_id = source_row_persons.source_key
),

store_visit_counts as (
    select
        person_id,
        store_id,
        row_number() over (partition by person_id order by count(*) desc, max(visited_at) desc, store_id) as visit_rank
    from store_visits
    group by person_id, store_id
),

home_stores as (
    select
        store_visit_counts.person_id,
        stores.country_code
    from store_visit_counts
    inner join stores on store_visit_counts.store_id = stores.store_id
    where store_visit_counts.visit_rank = 1
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
    left join home_stores on persons.person_id = home_stores.person_id
    left join country_time_zones as store_zones on home_stores.country_code = store_zones.country_code
)

select * from resolved
