{#
    A message sync model: the planned messages of fct_message_plan on `channels`, with
    the plan's columns (what activation's message syncs read, plan_built_at for the
    plan's age and the payload), the address each channel is sent to (its address_field
    in the channel registry, cdp_person_addresses: a push token is the person's most
    recently seen one) and `columns` of the person from dim_persons (personalisation).
    Consent (marketing or transactional, as the message's purpose says) and erasure are
    checked again here, so that a sync model can never carry a message the person may
    not receive, whatever the plan says.
#}
{% macro cdp_message_sync(channels, columns) -%}
{%- set address_fields = cdp_address_fields(channels) -%}
with plan as (
    select * from {{ ref('fct_message_plan') }}
    where status = 'planned'
        and channel in ({% for name in channels %}'{{ cdp_channel(name).channel }}'{{ ', ' if not loop.last }}{% endfor %})
),

persons as (
    select * from {{ ref('dim_persons') }}
),

addresses as (
    {{ cdp_person_addresses(channels) }}
),

messages as (
    select
        plan.message_key,
        plan.person_id,
        plan.journey,
        plan.step,
        plan.channel,
        plan.send_after,
        plan.status,
        plan.purpose,
        plan.offer_key,
        plan.payload,
        plan.plan_built_at
        {%- for field in address_fields %},
        addresses.{{ field }}
        {%- endfor %}
        {%- for column in columns %},
        persons.{{ column }}
        {%- endfor %}
    from plan
    inner join persons on plan.person_id = persons.person_id
    inner join addresses on plan.person_id = addresses.person_id
    where not persons.is_erased
        and case
            when plan.purpose = 'transactional' then {{ cdp_consent_for_channel('plan.channel', 'persons', 'transactional') }}
            else {{ cdp_consent_for_channel('plan.channel', 'persons') }}
        end
)

select * from messages
{%- endmacro %}
