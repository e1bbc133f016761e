{#
    The messages the journeys (var cdp__journeys) plan now: one row per (journey, step,
    person in the journey's audience), planned or suppressed with the reason.

    * send_after: when the person entered the audience plus the step's delay_hours.
      Steps are independent: each is planned from the audience entry.
    * channel: among the journey's channels, the person's preferred channel if they
      consented to it and can be reached on it (an e-mail address, a phone, a push token;
      web push reaches the person's OneSignal user), else the first such channel in
      cdp__journey_channel_priority. With none, the channel they would have got and
      status suppressed.
    * suppression, first reason that applies: erased; already_sent (activation recorded
      the message as sent, or as unknown: it may have gone out); no_consent (no marketing
      consent on any of the journey's channels); no_address; open_support_ticket
      (cdp__journey_suppress_open_tickets).
    * message_key: md5 of person, journey and step, plus the audience entry time for
      a repeatable journey (a new purchase, a new lapse plans a new message). The same
      inputs give the same key on every build, which is what activation's send ledger
      deduplicates on. When identity merges two persons, the survivor keeps its id and
      so its keys; a message already sent to the merged-away person (under that person's
      key) counts as already sent for the survivor (int_person_ids_resolved), so the
      merge does not send it again. For a repeatable journey that holds only if the
      survivor entered the audience at the same moment.
#}
{%- set journeys = cdp_journeys() -%}
{%- set channel_priority = cdp_journey_channel_priority() -%}

with persons as (
    select * from {{ ref('dim_persons') }}
),

memberships as (
    select * from {{ ref('fct_audience_memberships') }}
),

sends as (
    select * from {{ ref('fct_message_events') }}
    where event_source = 'activation' and event_type in ('sent', 'unknown')
),

person_ids as (
    select * from {{ ref('int_person_ids_resolved') }}
),

push_reachable as (
    select distinct person_id from {{ ref('bdg_person_identifiers') }}
    where identifier_type = 'push_token'
),

entries as (
    {% for journey in journeys %}
    select
        '{{ journey.journey }}' as journey,
        {{ journey.step }} as step,
        audience_name,
        person_id,
        entered_at,
        {{ dbt.dateadd('hour', journey.delay_hours, 'entered_at') }} as send_after,
        {{ 'true' if journey.repeatable else 'false' }} as is_repeatable
    from memberships
    where audience_name = '{{ journey.audience }}'
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

journey_channels as (
    {% for journey in journeys %}
    {% set outer = loop %}
    {% for channel in journey.channels %}
    select '{{ journey.journey }}' as journey, {{ journey.step }} as step, '{{ channel }}' as channel,
        {{ channel_priority.index(channel) + 1 }} as channel_priority
    {% if not (loop.last and outer.last) %}union all{% endif %}
    {% endfor %}
    {% endfor %}
),

channel_options as (
    select
        entries.*,
        journey_channels.channel,
        journey_channels.channel_priority,
        case journey_channels.channel
            {% for channel in cdp_message_channels() %}
            when '{{ channel }}' then persons.consent_{{ channel }}
            {% endfor %}
        end as has_consent,
        case journey_channels.channel
            when 'email' then persons.email is not null
            when 'sms' then persons.phone is not null
            when 'whatsapp' then persons.phone is not null
            when 'app_push' then push_reachable.person_id is not null
            else true
        end as has_address,
        coalesce(persons.preferred_channel = journey_channels.channel, false) as is_preferred_channel,
        persons.is_erased,
        persons.open_support_tickets
    from entries
    inner join journey_channels on journey_channels.journey = entries.journey and journey_channels.step = entries.step
    inner join persons on persons.person_id = entries.person_id
    left join push_reachable on push_reachable.person_id = entries.person_id
),

channel_ranked as (
    select
        *,
        row_number() over (
            partition by journey, step, person_id
            order by case when has_consent and has_address then 0 when has_consent then 1 else 2 end,
                case when is_preferred_channel then 0 else 1 end,
                channel_priority
        ) as channel_rank
    from channel_options
),

chosen as (
    select
        *,
        case
            when is_repeatable then {{ cdp_surrogate_key(['person_id', 'journey', 'step', 'entered_at']) }}
            else {{ cdp_surrogate_key(['person_id', 'journey', 'step']) }}
        end as message_key
    from channel_ranked
    where channel_rank = 1
),

-- The key each message would have had under an id since merged into the person.
merged_away_keys as (
    select
        chosen.message_key,
        case
            when chosen.is_repeatable then {{ cdp_surrogate_key(['person_ids.issued_person_id', 'chosen.journey', 'chosen.step', 'chosen.entered_at']) }}
            else {{ cdp_surrogate_key(['person_ids.issued_person_id', 'chosen.journey', 'chosen.step']) }}
        end as earlier_message_key
    from chosen
    inner join person_ids on person_ids.current_person_id = chosen.person_id and person_ids.is_merged_away
),

already_sent as (
    select chosen.message_key
    from chosen
    inner join sends on sends.message_key = chosen.message_key
    union
    select merged_away_keys.message_key
    from merged_away_keys
    inner join sends on sends.message_key = merged_away_keys.earlier_message_key
),

decided as (
    select
        chosen.*,
        case
            when chosen.is_erased then 'erased'
            when already_sent.message_key is not null then 'already_sent'
            when not chosen.has_consent then 'no_consent'
            when not chosen.has_address then 'no_address'
            {% if var('cdp__journey_suppress_open_tickets') %}
            when chosen.open_support_tickets > 0 then 'open_support_ticket'
            {% endif %}
        end as suppression_reason
    from chosen
    left join already_sent on already_sent.message_key = chosen.message_key
),

final as (
    select
        message_key,
        person_id,
        journey,
        step,
        channel,
        send_after,
        case when suppression_reason is null then 'planned' else 'suppressed' end as status,
        suppression_reason,
        audience_name,
        entered_at,
        case when is_preferred_channel then 'preferred_channel' else 'channel_priority' end as channel_reason,
        is_repeatable
    from decided
)

select * from final
