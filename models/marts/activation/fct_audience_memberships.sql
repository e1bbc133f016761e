{#
    Who is in which audience now, and since when. Each audience is one CTE selecting
    person_id and entered_at (the moment the person came to qualify), unioned in
    `memberships`. This is where audiences go: add a CTE named after the audience, add
    the name to cdp_audience_names() (macros/activation/cdp_journeys.sql) and to the
    accepted values in _activation__models.yml; journeys (cdp__journeys) and sync models
    then use it by name.

    Audiences describe behaviour only. Consent, erasure and open support tickets are
    applied where a message is planned (fct_message_plan) or a person is synced (sync_*
    models), so that every exclusion can be explained there.
#}

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
    select persons.person_id, persons.first_seen_at as entered_at
    from persons
    inner join contactable on contactable.person_id = persons.person_id
    where persons.first_seen_at > {{ dbt.dateadd('day', -var('cdp__audience_new_signup_days'), cdp_as_of()) }}
),

new_customers as (
    select person_id, first_purchase_at as entered_at
    from persons
    where lifecycle_stage = 'new'
),

recent_purchasers as (
    select person_id, last_purchase_at as entered_at
    from persons
    where last_purchase_at > {{ dbt.dateadd('day', -var('cdp__audience_recent_purchase_days'), cdp_as_of()) }}
),

-- RFM segments keep no history: the latest purchase is when the segment was last earned.
champions as (
    select person_id, last_purchase_at as entered_at
    from persons
    where rfm_segment = 'champions'
),

at_risk_customers as (
    select person_id, {{ dbt.dateadd('day', var('cdp__lifecycle_active_days'), 'last_purchase_at') }} as entered_at
    from persons
    where lifecycle_stage = 'at_risk'
),

lapsed_customers as (
    select person_id, {{ dbt.dateadd('day', var('cdp__lifecycle_lapsed_days'), 'last_purchase_at') }} as entered_at
    from persons
    where lifecycle_stage = 'lapsed'
),

memberships as (
    {% for audience in cdp_audience_names() %}
    select '{{ audience }}' as audience_name, person_id, entered_at from {{ audience }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select * from memberships
