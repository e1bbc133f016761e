{#
    A message sync model: the planned messages of fct_message_plan on `channels`, with
    the plan's columns (what activation's message syncs read) and `columns` of the
    person from dim_persons (addresses, personalisation). `push_token` is the person's
    most recently seen push token. Consent and erasure are checked again here, so that a
    sync model can never carry a message the person may not receive, whatever the plan
    says.
#}
{% macro cdp_message_sync(channels, columns) -%}
with plan as (
    select * from {{ ref('fct_message_plan') }}
    where status = 'planned'
        and channel in ({% for channel in channels %}'{{ channel }}'{{ ', ' if not loop.last }}{% endfor %})
),

persons as (
    select * from {{ ref('dim_persons') }}
),

{% if 'push_token' in columns %}
push_tokens as (
    select
        person_id,
        identifier_value as push_token,
        row_number() over (partition by person_id order by last_seen_at desc, identifier_value) as recency
    from {{ ref('bdg_person_identifiers') }}
    where identifier_type = 'push_token'
),
{% endif %}

messages as (
    select
        plan.message_key,
        plan.person_id,
        plan.journey,
        plan.step,
        plan.channel,
        plan.send_after,
        plan.status
        {%- for column in columns %},
        {{ 'push_tokens.push_token' if column == 'push_token' else 'persons.' ~ column }} as {{ column }}
        {%- endfor %}
    from plan
    inner join persons on persons.person_id = plan.person_id
    {% if 'push_token' in columns %}
    left join push_tokens on push_tokens.person_id = plan.person_id and push_tokens.recency = 1
    {% endif %}
    where not persons.is_erased
        and case plan.channel
            {% for channel in cdp_message_channels() %}
            when '{{ channel }}' then persons.consent_{{ channel }}
            {% endfor %}
        end
)

select * from messages
{%- endmacro %}
