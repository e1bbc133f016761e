{#- Persons who left a way to contact them and were first seen within cdp__audience_new_signup_days. -#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

identifiers as (
    select * from {{ ref('bdg_person_identifiers') }}
),

-- A cookie or a device alone is not a sign-up: the person left a way to be contacted.
contactable as (
    select distinct person_id
    from identifiers
    where identifier_type in ('crm_customer_id', 'email', 'phone')
),

new_signups as (
    select
        persons.person_id,
        persons.first_seen_at as entered_at
    from persons
    inner join contactable on persons.person_id = contactable.person_id
    where persons.first_seen_at > {{ dbt.dateadd('day', -var('cdp__audience_new_signup_days'), cdp_as_of()) }}
)

select * from new_signups
