{#- OneSignal users (external_id = person_id) with tags: persons not erased with app or web push marketing consent. -#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

users as (
    select
        person_id,
        loyalty_tier,
        lifecycle_stage
    from persons
    where not is_erased and (consent_app_push or consent_web_push)
)

select * from users
