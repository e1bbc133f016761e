{#
    Each person's stores: the home store (the one they visited most, by receipts and app
    store visits) and the nearest store a message names. Persons carry a city, not
    coordinates, so "nearest" is a store in the person's own city and country (the one
    they visited most there, then the lowest store_id); a person whose city has no store
    gets their home store; a person with neither gets none. Persons without a store row
    are absent: a left join gives them nulls.
#}

with persons as (
    select * from {{ ref('dim_persons') }}
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
        count(*) as visits,
        max(visited_at) as last_visited_at
    from store_visits
    group by person_id, store_id
),

home_stores as (
    select
        person_id,
        store_id
    from (
        select
            person_id,
            store_id,
            row_number() over (
                partition by person_id
                order by visits desc, last_visited_at desc, store_id asc
            ) as visit_rank
        from store_visit_counts
    ) as ranked
    where visit_rank = 1
),

same_city_stores as (
    select
        person_id,
        store_id
    from (
        select
            persons.person_id,
            stores.store_id,
            row_number() over (
                partition by persons.person_id
                order by coalesce(store_visit_counts.visits, 0) desc, stores.store_id asc
            ) as city_rank
        from persons
        inner join stores on lower(trim(persons.city)) = lower(trim(stores.city))
        left join store_visit_counts
            on persons.person_id = store_visit_counts.person_id and stores.store_id = store_visit_counts.store_id
        where persons.country_code is null or persons.country_code = stores.country_code
    ) as ranked
    where city_rank = 1
),

person_stores as (
    select
        persons.person_id,
        home_stores.store_id as home_store_id,
        home.country_code as home_store_country_code,
        coalesce(same_city_stores.store_id, home_stores.store_id) as nearest_store_id,
        case
            when same_city_stores.store_id is not null then 'same_city'
            when home_stores.store_id is not null then 'home_store'
        end as nearest_store_source
    from persons
    left join home_stores on persons.person_id = home_stores.person_id
    left join stores as home on home_stores.store_id = home.store_id
    left join same_city_stores on persons.person_id = same_city_stores.person_id
    where home_stores.store_id is not null or same_city_stores.store_id is not null
)

select
    person_stores.person_id,
    person_stores.home_store_id,
    person_stores.home_store_country_code,
    person_stores.nearest_store_id,
    nearest.store_name as nearest_store_name,
    nearest.city as nearest_store_city,
    person_stores.nearest_store_source
from person_stores
inner join stores as nearest on person_stores.nearest_store_id = nearest.store_id
