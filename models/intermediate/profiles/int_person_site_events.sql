{#
    Every web and app event up to cdp__as_of with the person identity gives it
    (cdp_source_row_persons: the one rule for which person a source row belongs to).
    Events of no known person are left out. The journeys' carts and browse sessions and
    the audiences' behaviour features all read their events from here.
#}

with web_events as (
    select * from {{ ref('stg_web__events') }}
    where occurred_at <= {{ cdp_as_of() }}
),

app_events as (
    select * from {{ ref('stg_app__events') }}
    where occurred_at <= {{ cdp_as_of() }}
),

web_event_persons as (
    {{ cdp_source_row_persons('stg_web__events') }}
),

app_event_persons as (
    {{ cdp_source_row_persons('stg_app__events') }}
),

site_events as (
    select
        'web' as site,
        web_events.web_event_id as event_id,
        web_event_persons.person_id,
        web_events.event_type,
        web_events.product_id,
        web_events.occurred_at
    from web_events
    inner join web_event_persons on web_events.web_event_id = web_event_persons.source_key
    union all
    select
        'app' as site,
        app_events.app_event_id as event_id,
        app_event_persons.person_id,
        app_events.event_type,
        app_events.product_id,
        app_events.occurred_at
    from app_events
    inner join app_event_persons on app_events.app_event_id = app_event_persons.source_key
)

select * from site_events
