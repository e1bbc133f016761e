{#
    Klaviyo's list of marketable persons: everyone not erased who consented to e-mail or
    SMS marketing and has that address. consent_email / consent_sms become Klaviyo
    subscriptions (a false one unsubscribes: Priya revoked e-mail and keeps SMS);
    `audiences` (the person's audiences, comma-separated) becomes a profile property
    that Klaviyo segments can use.
#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

audiences as (
    select person_id, {{ cdp_sorted_string_agg('audience_name', ',') }} as audiences
    from {{ ref('fct_audience_memberships') }}
    group by person_id
),

members as (
    select
        persons.person_id,
        persons.email,
        persons.phone,
        persons.first_name,
        persons.last_name,
        persons.loyalty_tier,
        persons.lifecycle_stage,
        persons.consent_email,
        persons.consent_sms,
        coalesce(audiences.audiences, '') as audiences
    from persons
    left join audiences on audiences.person_id = persons.person_id
    where not persons.is_erased
        and ((persons.consent_email and persons.email is not null) or (persons.consent_sms and persons.phone is not null))
)

select * from members
