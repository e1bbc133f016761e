{#
    The message plan: one row per candidate message (int_message_candidates: person,
    journey, step, occurrence) with when it may go and whether it goes. Activation
    sends the planned rows whose send_after has passed, each message_key once.

    Time. A step is due (due_at) wait_minutes after the entry (step 1) or after the
    previous step's send: its actual send when sent, else its send_after. Nothing is
    placed before the plan's own moment (cdp__as_of; a send recorded later counts as
    sent then). Quiet hours (cdp__quiet_hours_start to _end, the person's local time,
    int_person_time_zones) move a send to the end of the window.

    Caps. Promotional messages share a cross-channel cap counted in the person's local
    calendar: cdp__frequency_cap_per_day per local day and cdp__frequency_cap_per_week
    per local calendar week (Monday to Sunday), optional per-channel caps on top
    (cdp__frequency_caps_per_channel), with messages already sent counted.
    Transactional messages are exempt. Slots are given in rounds
    (macros/activation/cdp_plan_allocation.sql), one message per person per round,
    higher journey priority first (then earlier due_at): a message whose day is taken
    goes to the next day with room (deferred_by frequency_cap), at most
    cdp__plan_max_deferral_days ahead and within its validity window (validity_minutes
    after due_at, counted from the end of quiet hours); otherwise it is suppressed
    frequency_cap. The same offer_key planned or sent to the person within the offer's
    window is suppressed duplicate_offer; a step whose validity ended before the plan's
    moment is suppressed expired. A person's promotional messages beyond
    cdp__plan_allocation_rounds rounds are suppressed frequency_cap
    (allocation_rounds_exhausted). Rows suppressed earlier (eligibility, holdouts) take
    no slot; they show when they would have gone.

    Only the persons with a promotional message to place go through the slot rounds;
    everyone else's rows only settle their times. Then as many settling rounds as the
    longest journey has steps give every remaining row its time.
#}
{%- set rounds = var('cdp__plan_allocation_rounds') -%}
{%- set settle_rounds = cdp_journey_max_steps() -%}
{%- set max_deferral_days = var('cdp__plan_max_deferral_days') -%}
{%- set journeys = cdp_journeys() -%}
{%- set steps = journeys | map(attribute='steps') | sum(start=[]) -%}
{%- set offers = steps | map(attribute='offer_key') | select | unique | sort | list -%}
{%- set offer_lookback_days = [8 + max_deferral_days] + (steps | map(attribute='offer_window_days') | select | list) -%}
{%- set channels = cdp_message_channels() -%}
{%- set null_text = 'cast(null as ' ~ dbt.type_string() ~ ')' -%}
{%- set null_int = 'cast(null as ' ~ dbt.type_int() ~ ')' -%}
{%- set null_timestamp = 'cast(null as ' ~ dbt.type_timestamp() ~ ')' -%}
{%- set as_of = cdp_as_of() %}

with candidates as (
    select * from {{ ref('int_message_candidates') }}
),

sends as (
    select * from {{ ref('fct_message_events') }}
    where
        event_source = 'activation'
        and event_type in ('sent', 'unknown')
        and person_id is not null
        and occurred_at > {{ dbt.dateadd('day', -(offer_lookback_days | max), as_of) }}
),

time_zones as (
    select * from {{ ref('int_person_time_zones') }}
),

journey_steps as (
    {{ cdp_journey_steps_table() }}
),

-- Sends the plan holds no row for (their occurrence left the plan's windows, or their
-- journey is no longer configured) still count towards caps and offers.
history_sends as (
    select
        sends.message_key,
        sends.person_id,
        min(sends.journey) as journey,
        min(sends.step) as step,
        min(sends.channel) as channel,
        min(sends.occurred_at) as sent_at
    from sends
    left join candidates on sends.message_key = candidates.sent_message_key
    where candidates.sent_message_key is null
    group by sends.message_key, sends.person_id
),

messages as (
    select
        message_key,
        person_id,
        occurrence_id as chain_id,
        step,
        priority,
        purpose = 'promotional' as is_capped,
        eligibility_reason is not null and eligibility_reason <> 'already_sent' as is_presuppressed,
        offer_key,
        offer_window_days,
        wait_minutes,
        validity_minutes,
        entered_at,
        time_zone,
        channel,
        case when eligibility_reason = 'already_sent' then 'sent' else 'pending' end as plan_status,
        case when eligibility_reason = 'already_sent' then least(sent_at, {{ as_of }}) end as sent_at
    from candidates
    union all
    select
        history_sends.message_key,
        history_sends.person_id,
        history_sends.message_key as chain_id,
        coalesce(history_sends.step, 1) as step,
        coalesce(journey_steps.priority, 0) as priority,
        coalesce(journey_steps.purpose, 'promotional') = 'promotional' as is_capped,
        false as is_presuppressed,
        journey_steps.offer_key,
        journey_steps.offer_window_days,
        0 as wait_minutes,
        {{ null_int }} as validity_minutes,
        {{ null_timestamp }} as entered_at,
        time_zones.time_zone,
        history_sends.channel,
        'history' as plan_status,
        least(history_sends.sent_at, {{ as_of }}) as sent_at
    from history_sends
    inner join time_zones on history_sends.person_id = time_zones.person_id
    left join journey_steps on history_sends.journey = journey_steps.journey and history_sends.step = journey_steps.step
),

-- The allocation's state is narrow: integer ids (numbered on the keys alone: a window over
-- every column would copy them all), codes for offers and channels.
message_numbers as (
    select
        message_key,
        row_number() over (order by message_key) as message_number
    from messages
),

chain_numbers as (
    select
        chain_id,
        row_number() over (order by chain_id) as chain_number
    from (select distinct chain_id from messages) as chains
),

person_numbers as (
    select
        person_id,
        row_number() over (order by person_id) as person_number,
        max(
            case when is_capped and not is_presuppressed and plan_status = 'pending' then 1 else 0 end
        ) = 1 as needs_slots
    from messages
    group by person_id
),

allocation_round_0 as (
    select
        message_numbers.message_number,
        person_numbers.person_number,
        chain_numbers.chain_number,
        messages.step,
        messages.priority,
        messages.is_capped,
        messages.is_presuppressed,
        case messages.offer_key
            {%- for offer in offers %}
                when '{{ offer }}' then {{ loop.index }}
            {%- endfor %}
        end as offer_number,
        messages.offer_window_days,
        messages.wait_minutes,
        messages.validity_minutes,
        messages.entered_at,
        messages.time_zone,
        case messages.channel
            {%- for channel in channels %}
                when '{{ channel }}' then {{ loop.index0 }}
            {%- endfor %}
        end as channel_number,
        messages.plan_status,
        {{ null_text }} as allocation_reason,
        case when messages.plan_status = 'history' then messages.sent_at end as due_at,
        messages.sent_at as send_after,
        messages.sent_at as chain_time,
        case
            when messages.is_capped then {{ cdp_local_day('messages.sent_at', 'messages.time_zone') }}
        end as occupied_day,
        case
            when messages.is_capped
                then {{ cdp_week_start(cdp_local_day('messages.sent_at', 'messages.time_zone')) }}
        end as occupied_week,
        {{ null_text }} as deferred_by,
        {{ null_int }} as allocation_round,
        {{ null_text }} as allocation_detail,
        {{ null_int }} as cap_slot_day,
        {{ null_int }} as cap_day_load,
        {{ null_int }} as cap_week_load,
        {{ null_timestamp }} as duplicate_offer_at,
        person_numbers.needs_slots
    from messages
    inner join message_numbers on messages.message_key = message_numbers.message_key
    inner join chain_numbers on messages.chain_id = chain_numbers.chain_id
    inner join person_numbers on messages.person_id = person_numbers.person_id
),

-- Persons with a promotional message to place: the slot rounds.
slot_round_0 as (
    select {{ (cdp_plan_fixed_columns() + cdp_plan_decided_columns()) | join(', ') }}
    from allocation_round_0
    where needs_slots
),
{% for round in range(1, rounds + 1) %}

    slot_round_{{ round }} as (
        {{ cdp_plan_slot_round('slot_round_' ~ (round - 1), round) }}
    ),
{% endfor %}

-- Everyone else only settles: time for every step, no slot to find.
settle_round_0 as (
    select {{ (cdp_plan_fixed_columns() + cdp_plan_decided_columns()) | join(', ') }}
    from allocation_round_0
    where not needs_slots
    union all
    select * from slot_round_{{ rounds }}
),
{% for round in range(1, settle_rounds + 1) %}

    settle_round_{{ round }} as (
        {{ cdp_plan_settle_round('settle_round_' ~ (round - 1), rounds + round) }}
    ),
{% endfor %}

allocated as (
    select message_numbers.message_key, settle_round_{{ settle_rounds }}.*
    from settle_round_{{ settle_rounds }}
    inner join message_numbers on settle_round_{{ settle_rounds }}.message_number = message_numbers.message_number
),

final as (
    select
        candidates.message_key,
        candidates.person_id,
        candidates.journey,
        candidates.step,
        candidates.occurrence_key,
        candidates.channel,
        candidates.channel_reason,
        allocated.due_at,
        allocated.send_after,
        case when allocated.plan_status = 'planned' then 'planned' else 'suppressed' end as status,
        coalesce(candidates.eligibility_reason, allocated.allocation_reason) as suppression_reason,
        case when allocated.plan_status = 'planned' then allocated.deferred_by end as deferred_by,
        case
            when allocated.plan_status = 'planned'
                then {{ cdp_minutes_between('greatest(allocated.due_at, ' ~ as_of ~ ')', 'allocated.send_after') }}
        end as deferred_minutes,
        candidates.offer_key,
        candidates.priority,
        candidates.purpose,
        candidates.payload,
        {{ as_of }} as plan_built_at,
        candidates.entered_at,
        candidates.time_zone,
        candidates.reachability_reason,
        candidates.previous_channel,
        candidates.previous_engaged_at,
        candidates.sent_at,
        candidates.reentry_blocked_by,
        candidates.reentry_blocking_at,
        candidates.goal_met_at,
        candidates.stale_sources,
        allocated.duplicate_offer_at,
        allocated.allocation_round,
        allocated.allocation_detail,
        allocated.cap_slot_day,
        allocated.cap_day_load,
        allocated.cap_week_load
    from allocated
    inner join candidates on allocated.message_key = candidates.message_key
)

select * from final
