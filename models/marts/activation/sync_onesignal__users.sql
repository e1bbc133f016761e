{#-
    OneSignal users (external_id = person_id) with tags: persons not erased with app or
    web push marketing consent; the plan's suppression flags (open support ticket,
    global control) are tags too, for messages composed in OneSignal.
-#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

users as (
    select
        persons.person_id,
        persons.loyalty_tier,
        persons.lifecycle_stage,
        persons.open_support_tickets > 0 as has_open_support_ticket,
        {{ cdp_is_global_control('persons.person_id') }} as is_global_control
    from persons
    where not persons.is_erased and {{ cdp_has_consent_on(['app_push', 'web_push'], 'persons') }}
)

select * from users
