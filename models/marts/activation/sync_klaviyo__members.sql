{#
    Klaviyo's list of marketable persons: everyone not erased who consented to e-mail or
    SMS marketing and has that address. consent_email / consent_sms become Klaviyo
    subscriptions (a false one unsubscribes: Priya revoked e-mail and keeps SMS);
    `audiences` (the person's audiences, comma-separated) becomes a profile property
    that Klaviyo segments can use. has_open_support_ticket and is_global_control carry
    the plan's suppressions to the provider, so that a campaign built in Klaviyo can
    leave those persons out too.
#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

audiences as (
    select
        person_id,
        {{ cdp_sorted_string_agg('audience_name', ',') }} as audiences
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
        persons.{{ cdp_consent_column('email') }},
        persons.{{ cdp_consent_column('sms') }},
        coalesce(audiences.audiences, '') as audiences,
        persons.open_support_tickets > 0 as has_open_support_ticket,
        {{ cdp_is_global_control('persons.person_id') }} as is_global_control
    from persons
    left join audiences on persons.person_id = audiences.person_id
    where
        not persons.is_erased
        and {{ cdp_can_message_on(['email', 'sms'], 'persons', 'persons') }}
)

select * from members
