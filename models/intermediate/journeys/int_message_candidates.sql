{#
    One row per candidate message: every step of every occurrence
    (int_journey_occurrences), with its key, its channel and the first eligibility rule
    that suppresses it. Caps, offers and time (due_at, send_after) are decided after
    this, in fct_message_plan.

    message_key: md5 of person_id, journey, occurrence_key and step, the same on every
    build. A message sent under the key of a person since merged into this one
    (int_person_ids_resolved) counts as sent: the merge does not send it again.

    Routing, step by step (a step's channel can depend on the one before):
    * the step's channels (default: the whole registry) that the person consented to
      for the journey's purpose (marketing for promotional journeys, transactional
      for transactional ones) and can be reached on (int_person_channel_reachability);
    * the least intrusive (the registry's intrusiveness), unless the person's preferred
      channel (dim_persons.preferred_channel, from engagement) is among them;
    * a step with escalate_if_no_engagement_within: if the previous step was opened or
      clicked within that many minutes of its send, the same channel; otherwise (no
      engagement, or not sent yet: escalation is assumed until engagement shows) the
      next more intrusive usable channel, else the same channel.
    * with no usable channel, the channel the person would have got, suppressed
      no_consent or no_address.
    channel_reason names the rule; a sent message shows the channel it went out on.

    Eligibility, first that applies: erased, already_sent, reentry_gap, stale_source,
    goal_reached, no_consent, no_address, open_support_ticket (promotional), then the
    holdouts: global_control (promotional) and the journey's holdout. Held-out rows stay
    in the plan with the message they would have received.
#}
{%- set max_steps = cdp_journey_max_steps() %}

with occurrences as (
    select * from {{ ref('int_journey_occurrences') }}
),

persons as (
    select * from {{ ref('dim_persons') }}
),

reachability as (
    select * from {{ ref('int_person_channel_reachability') }}
),

time_zones as (
    select * from {{ ref('int_person_time_zones') }}
),

person_stores as (
    select * from {{ ref('int_person_stores') }}
),

person_ids as (
    select * from {{ ref('int_person_ids_resolved') }}
),

recommendations as (
    select * from {{ ref('fct_person_recommendations') }}
),

sends as (
    select * from {{ ref('fct_message_events') }}
    where event_source = 'activation' and event_type in ('sent', 'unknown')
),

engagement_events as (
    select * from {{ ref('fct_message_events') }}
    where event_source = 'provider_report' and event_type in ('opened', 'clicked')
),

journey_steps as (
    {{ cdp_journey_steps_table() }}
),

step_channels as (
    {{ cdp_journey_step_channels_table() }}
),

registry as (
    {% for channel in cdp_channels() %}
        select
            '{{ channel.channel }}' as channel,
            {{ channel.intrusiveness }} as intrusiveness
        {{ 'union all' if not loop.last }}
    {% endfor %}
),

messages as (
    select
        {{ cdp_surrogate_key([
            'occurrences.person_id', 'occurrences.journey', 'occurrences.occurrence_key', 'journey_steps.step',
        ]) }}
            as message_key,
        occurrences.occurrence_id,
        occurrences.journey,
        journey_steps.step,
        occurrences.person_id,
        occurrences.occurrence_key,
        occurrences.entered_at,
        occurrences.product_ids,
        occurrences.points_expiring,
        occurrences.points_expire_at,
        occurrences.has_entered,
        occurrences.reentry_blocked_by,
        occurrences.reentry_blocking_at,
        occurrences.goal_met_at,
        occurrences.stale_sources,
        journey_steps.purpose,
        journey_steps.priority,
        journey_steps.wait_minutes,
        journey_steps.validity_minutes,
        journey_steps.offer_key,
        journey_steps.offer_window_days,
        journey_steps.escalate_within_minutes,
        journey_steps.holdout_share
    from occurrences
    inner join journey_steps on occurrences.journey = journey_steps.journey
),

-- What the payloads recommend: each person's best products, in rank order.
person_recommendations as (
    select
        recommendations.person_id,
        {{ cdp_ranked_product_list('recommendations') }} as product_ids
    from recommendations
    where recommendations.recommendation_rank <= {{ var('cdp__payload_recommendations') }}
    group by recommendations.person_id
),

-- The key each message had under an id since merged into the person.
merged_away_keys as (
    select
        messages.message_key,
        {{ cdp_surrogate_key([
            'person_ids.issued_person_id', 'messages.journey', 'messages.occurrence_key', 'messages.step',
        ]) }}
            as recorded_message_key
    from messages
    inner join person_ids on messages.person_id = person_ids.current_person_id and person_ids.is_merged_away
),

recorded_keys as (
    select
        message_key,
        message_key as recorded_message_key
    from messages
    union all
    select
        message_key,
        recorded_message_key
    from merged_away_keys
),

message_sends as (
    select
        recorded_keys.message_key,
        recorded_keys.recorded_message_key,
        sends.occurred_at,
        sends.channel,
        sends.message_id,
        row_number() over (
            partition by recorded_keys.message_key order by sends.occurred_at, sends.message_event_id
        ) as send_rank
    from recorded_keys
    inner join sends on recorded_keys.recorded_message_key = sends.message_key
),

first_sends as (
    select * from message_sends
    where send_rank = 1
),

-- Opens and clicks of a sent message: matched by the provider's message id, or, where
-- the provider returned none, any on the same channel by the same person after the send.
engagements as (
    select
        message_key,
        min(occurred_at) as first_engaged_at
    from (
        select
            first_sends.message_key,
            engagement_events.occurred_at
        from first_sends
        inner join engagement_events on first_sends.message_id = engagement_events.message_id
        where engagement_events.occurred_at >= first_sends.occurred_at
        union all
        select
            first_sends.message_key,
            engagement_events.occurred_at
        from first_sends
        inner join messages on first_sends.message_key = messages.message_key
        inner join engagement_events
            on first_sends.channel = engagement_events.channel
            -- messages is joined before engagement_events; ST09 misreads this three-way join
            and messages.person_id = engagement_events.person_id  -- noqa: ST09
        where first_sends.message_id is null and engagement_events.occurred_at >= first_sends.occurred_at
    ) as matched_engagements
    group by message_key
),

-- Reachability per person, one column per channel: the options below join it once per
-- message rather than once per message and channel.
person_reachability as (
    select
        person_id,
    {%- for channel in cdp_message_channels() %}
        max(case when channel = '{{ channel }}' and is_reachable then 1 else 0 end) = 1 as is_reachable_{{ channel }},
        max(case when channel = '{{ channel }}' then reachability_reason end) as reachability_reason_{{ channel }}
        {{- ',' if not loop.last }}
    {%- endfor %}
    from reachability
    group by person_id
),

message_persons as (
    select
        messages.message_key,
        messages.occurrence_id,
        messages.journey,
        messages.step,
        messages.purpose,
        messages.escalate_within_minutes,
        persons.preferred_channel,
    {%- for channel in cdp_channels() %}
        persons.{{ channel.consent_column }},
        persons.{{ channel.transactional_consent_column }},
        coalesce(person_reachability.is_reachable_{{ channel.channel }}, false) as is_reachable_{{ channel.channel }},
        person_reachability.reachability_reason_{{ channel.channel }}
        {{- ',' if not loop.last }}
    {%- endfor %}
    from messages
    inner join persons on messages.person_id = persons.person_id
    left join person_reachability on messages.person_id = person_reachability.person_id
),

channel_options as (
    select
        message_persons.message_key,
        message_persons.occurrence_id,
        message_persons.step,
        message_persons.escalate_within_minutes,
        step_channels.channel,
        step_channels.intrusiveness,
        step_channels.channel_index,
        case
            when message_persons.purpose = 'transactional'
                then {{ cdp_consent_for_channel('step_channels.channel', 'message_persons', 'transactional') }}
            else {{ cdp_consent_for_channel('step_channels.channel', 'message_persons') }}
        end as has_consent,
        case step_channels.channel
            {%- for channel in cdp_message_channels() %}
                when '{{ channel }}' then message_persons.is_reachable_{{ channel }}
            {%- endfor %}
        end as is_reachable,
        case step_channels.channel
            {%- for channel in cdp_message_channels() %}
                when '{{ channel }}' then message_persons.reachability_reason_{{ channel }}
            {%- endfor %}
        end as reachability_reason,
        coalesce(message_persons.preferred_channel = step_channels.channel, false) as is_preferred_channel
    from message_persons
    inner join step_channels
        on message_persons.journey = step_channels.journey and message_persons.step = step_channels.step
),
{% for level in range(1, max_steps + 1) %}
    {%- if level > 1 %}

        -- Where step {{ level - 1 }} went (or is planned to go) and whether it was engaged with.
        previous_of_step_{{ level }} as (
            select
                routed_step_{{ level - 1 }}.occurrence_id,
                registry.channel as previous_channel,
                registry.intrusiveness as previous_intrusiveness,
                first_sends.occurred_at as previous_sent_at,
                engagements.first_engaged_at as previous_engaged_at
            from routed_step_{{ level - 1 }}
            left join first_sends on routed_step_{{ level - 1 }}.message_key = first_sends.message_key
            left join engagements on routed_step_{{ level - 1 }}.message_key = engagements.message_key
            inner join registry on registry.channel = coalesce(first_sends.channel, routed_step_{{ level - 1 }}.channel)
        ),
    {%- endif %}

    -- Step {{ level }}'s channels, each with the rule that would choose it and its place in the
    -- order of choice (choice_key: smallest wins; one number, so that the choice is a group by).
    options_of_step_{{ level }} as (
        select
            *,
            ((
                (escalation_tier * 100 + case when escalation_tier = 0 then intrusiveness else 0 end) * 10
                + case
                    when has_consent and is_reachable then 0 when has_consent then 1 when is_reachable then 2 else 3
                end
            ) * 10
            + case when is_preferred_channel then 0 else 1 end) * 10000 + intrusiveness * 100 + channel_index
                as choice_key,
            case
                when escalation_tier = 0 and is_engaged then 'stayed_after_engagement'
                when escalation_tier = 0 then 'escalated_without_engagement'
                when escalation_tier = 1 then 'no_channel_to_escalate_to'
                when has_consent and is_reachable and is_preferred_channel then 'preferred_channel'
                when has_consent and is_reachable then 'least_intrusive'
                else 'no_usable_channel'
            end as channel_reason
        from (
            select
                channel_options.*,
                {%- if level > 1 %}
                    {%- set engagement_deadline = cdp_add_minutes(
                        'previous_of_step_' ~ level ~ '.previous_sent_at', 'channel_options.escalate_within_minutes') %}
                    previous_of_step_{{ level }}.previous_channel,
                    previous_of_step_{{ level }}.previous_engaged_at,
                    coalesce(
                        previous_of_step_{{ level }}.previous_engaged_at
                        <= {{ engagement_deadline }},
                        false
                    ) as is_engaged,
                    case
                        when channel_options.escalate_within_minutes is null then 2
                        when
                            coalesce(
                                previous_of_step_{{ level }}.previous_engaged_at
                                <= {{ engagement_deadline }},
                                false
                            )
                            then case
                                when
                                    channel_options.channel = previous_of_step_{{ level }}.previous_channel
                                    and channel_options.has_consent and channel_options.is_reachable then 0
                                else 2
                            end
                        when
                            channel_options.has_consent and channel_options.is_reachable
                            and channel_options.intrusiveness > previous_of_step_{{ level }}.previous_intrusiveness
                            then 0
                        when
                            channel_options.channel = previous_of_step_{{ level }}.previous_channel
                            and channel_options.has_consent and channel_options.is_reachable then 1
                        else 2
                    end as escalation_tier
                {%- else %}
                    cast(null as {{ dbt.type_string() }}) as previous_channel,
                    cast(null as {{ dbt.type_timestamp() }}) as previous_engaged_at,
                    false as is_engaged,
                    2 as escalation_tier
                {%- endif %}
            from
                channel_options
            {%- if level > 1 %}
            left join
                previous_of_step_{{ level }}
                on previous_of_step_{{ level }}.occurrence_id = channel_options.occurrence_id
            {%- endif %}
            where channel_options.step = {{ level }}
        ) as tiered
    ),

    best_choices_of_step_{{ level }} as (
        select
            message_key,
            min(choice_key) as choice_key
        from options_of_step_{{ level }}
        group by message_key
    ),

    routed_step_{{ level }} as (
        select
            options_of_step_{{ level }}.message_key,
            options_of_step_{{ level }}.occurrence_id,
            options_of_step_{{ level }}.channel,
            options_of_step_{{ level }}.has_consent,
            options_of_step_{{ level }}.is_reachable,
            options_of_step_{{ level }}.reachability_reason,
            options_of_step_{{ level }}.previous_channel,
            options_of_step_{{ level }}.previous_engaged_at,
            options_of_step_{{ level }}.channel_reason
        from options_of_step_{{ level }}
        inner join best_choices_of_step_{{ level }}
            on best_choices_of_step_{{ level }}.message_key = options_of_step_{{ level }}.message_key
            and best_choices_of_step_{{ level }}.choice_key = options_of_step_{{ level }}.choice_key
    ),
{% endfor %}

routed as (
    {% for level in range(1, max_steps + 1) %}
        select * from routed_step_{{ level }}
        {{ 'union all' if not loop.last }}
    {% endfor %}
),

candidates as (
    select
        messages.message_key,
        messages.occurrence_id,
        messages.journey,
        messages.step,
        messages.person_id,
        messages.occurrence_key,
        messages.entered_at,
        messages.purpose,
        messages.priority,
        messages.wait_minutes,
        messages.validity_minutes,
        messages.offer_key,
        messages.offer_window_days,
        coalesce(first_sends.channel, routed.channel) as channel,
        case when first_sends.message_key is not null then 'sent' else routed.channel_reason end as channel_reason,
        routed.reachability_reason,
        routed.previous_channel,
        routed.previous_engaged_at,
        time_zones.time_zone,
        time_zones.time_zone_source,
        first_sends.occurred_at as sent_at,
        first_sends.recorded_message_key as sent_message_key,
        messages.reentry_blocked_by,
        messages.reentry_blocking_at,
        messages.goal_met_at,
        messages.stale_sources,
        case
            when persons.is_erased then 'erased'
            when first_sends.message_key is not null then 'already_sent'
            when not messages.has_entered then 'reentry_gap'
            when messages.stale_sources is not null then 'stale_source'
            when messages.goal_met_at is not null then 'goal_reached'
            when not routed.has_consent then 'no_consent'
            when not routed.is_reachable then 'no_address'
            {%- if var('cdp__journey_suppress_open_tickets') %}
                when messages.purpose = 'promotional' and persons.open_support_tickets > 0 then 'open_support_ticket'
            {%- endif %}
            when
                messages.purpose = 'promotional' and {{ cdp_is_global_control('messages.person_id') }}
                then 'global_control'
            when
                {{ cdp_is_journey_holdout('messages.person_id', 'messages.journey', 'messages.holdout_share') }}
                then 'holdout'
        end as eligibility_reason,
        {{ cdp_message_payload(
            'messages.product_ids', 'person_recommendations.product_ids', 'persons.first_name', 'persons.loyalty_tier', 'persons.points_balance',
            'messages.points_expiring', 'messages.points_expire_at', 'messages.offer_key',
            'person_stores.nearest_store_id', 'person_stores.nearest_store_name', 'person_stores.nearest_store_city',
        ) }} as payload
    from messages
    inner join routed on messages.message_key = routed.message_key
    inner join persons on messages.person_id = persons.person_id
    left join first_sends on messages.message_key = first_sends.message_key
    left join time_zones on messages.person_id = time_zones.person_id
    left join person_recommendations on messages.person_id = person_recommendations.person_id
    left join person_stores on messages.person_id = person_stores.person_id
)

select * from candidates
