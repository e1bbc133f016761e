{#-
    SendGrid's marketing list: persons not erased with e-mail marketing consent and an
    address, with the plan's suppression flags (open support ticket, global control) as
    custom fields for campaigns built in SendGrid (text fields: 'true' or 'false').
-#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

contacts as (
    select
        persons.person_id,
        persons.email,
        persons.first_name,
        persons.last_name,
        persons.city,
        persons.postal_code,
        persons.country_code as country,
        persons.loyalty_tier,
        persons.lifecycle_stage,
        case when persons.open_support_tickets > 0 then 'true' else 'false' end as has_open_support_ticket,
        case when {{ cdp_is_global_control('persons.person_id') }} then 'true' else 'false' end as is_global_control
    from persons
    where not persons.is_erased and {{ cdp_can_message_on(['email'], 'persons', 'persons') }}
)

select * from contacts
