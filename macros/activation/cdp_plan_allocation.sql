{#
    The rounds of fct_message_plan's allocation, as SELECTs over the previous round's
    state (a relation name). A round reads its previous round once and uses window
    functions only, so that unrolled rounds stay one statement of linear size on every
    warehouse (Spark inlines common table expressions: a round read twice would double
    the plan at every round). The state is kept narrow (integer ids, no descriptions):
    window functions copy every column they pass on.

    State, one row per candidate message or recorded send (see fct_message_plan):
      message_number, person_number, chain_number (the occurrence: steps follow each
      other within it), step, priority, is_capped (promotional), is_presuppressed (an
      eligibility or holdout reason holds), offer_number, offer_window_days,
      wait_minutes, validity_minutes, entered_at, time_zone, channel_number;
      plan_status (pending, planned, suppressed, sent, history), allocation_reason,
      due_at, send_after, chain_time (what the next step waits from), occupied_day and
      occupied_week (local, for capped planned or sent messages), deferred_by,
      allocation_round, allocation_detail, cap_slot_day, cap_day_load, cap_week_load,
      duplicate_offer_at.
#}

{% macro cdp_plan_fixed_columns() -%}
    {{ return(['message_number', 'person_number', 'chain_number', 'step', 'priority', 'is_capped', 'is_presuppressed',
               'offer_number', 'offer_window_days', 'wait_minutes', 'validity_minutes', 'entered_at', 'time_zone',
               'channel_number']) }}
{%- endmacro %}

{% macro cdp_plan_decided_columns() -%}
    {{ return(['plan_status', 'allocation_reason', 'due_at', 'send_after', 'chain_time', 'occupied_day', 'occupied_week',
               'deferred_by', 'allocation_round', 'allocation_detail', 'cap_slot_day', 'cap_day_load', 'cap_week_load',
               'duplicate_offer_at']) }}
{%- endmacro %}

{#-
    Per person, the capped messages planned or sent on each local day from the pick's
    day (pick_day) to cdp__plan_max_deferral_days after it, in two sums: 12 bits per day,
    four days per sum (48 bits, exact in a double on every warehouse). Two sums instead
    of one window aggregate per day: window functions cost per aggregate.
-#}
{% macro cdp_plan_packed_loads(condition, name) -%}
    {%- set days = var('cdp__plan_max_deferral_days') + 1 -%}
    {%- for part in range(0, (days + 3) // 4) %}
    cast(sum(case when {{ condition }} then case
        {%- for day in range(part * 4, [part * 4 + 4, days] | min) %}
        when occupied_day = cast({{ dbt.dateadd('day', day, 'pick_day') }} as date) then {{ 4096 ** (day - part * 4) }}
        {%- endfor %}
        else 0 end else 0 end) over (partition by person_number) as {{ dbt.type_bigint() }}) as {{ name }}_{{ part }}
    {{- ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- The load of day `day` (0: the pick's day) out of cdp_plan_packed_loads' sums `name`. -#}
{% macro cdp_plan_unpacked_load(name, day) -%}
    (cast(floor({{ name }}_{{ day // 4 }} / {{ 4096 ** (day % 4) }}) as {{ dbt.type_bigint() }}) % 4096)
{%- endmacro %}

{#- The step is ready when its previous step has its time; its due_at is wait_minutes after that (or after the entry). -#}
{% macro cdp_plan_readied(previous) -%}
    select
        *,
        due_at is null
            and (step = 1 or lag(chain_time) over (partition by chain_number order by step) is not null) as is_ready,
        {{ cdp_add_minutes('case when step = 1 then entered_at else lag(chain_time) over (partition by chain_number order by step) end', 'wait_minutes') }}
            as ready_due_at
    from {{ previous }}
{%- endmacro %}

{#- The first moment outside quiet hours at or after due (not before the plan's moment), and the end of the validity window. -#}
{% macro cdp_plan_timed(readied) -%}
    {%- set as_of = cdp_as_of() -%}
    select
        *,
        case when is_ready then
            {{ cdp_after_quiet_hours('greatest(ready_due_at, ' ~ as_of ~ ')', 'time_zone', 'start_local') }}
        end as earliest_send_at,
        case when is_ready then
            {{ cdp_add_minutes(cdp_after_quiet_hours('ready_due_at', 'time_zone', 'due_local'), 'validity_minutes') }}
        end as deadline_at
    from (
        select
            *,
            -- Time zones are converted only for the rows a round decides.
            case when is_ready then {{ cdp_utc_to_local('greatest(ready_due_at, ' ~ as_of ~ ')', 'time_zone') }} end as start_local,
            case when is_ready then {{ cdp_utc_to_local('ready_due_at', 'time_zone') }} end as due_local
        from ({{ readied }}) as readied
    ) as localized
{%- endmacro %}

{#- The state columns of the next round, from a decided row (`is_deciding`, `new_*` columns). -#}
{% macro cdp_plan_next_state(round) -%}
    {%- set as_of = cdp_as_of() -%}
    {{ cdp_plan_fixed_columns() | join(', ') }},
    case when is_deciding then new_status else plan_status end as plan_status,
    case when is_deciding then new_reason else allocation_reason end as allocation_reason,
    case when is_deciding then ready_due_at else due_at end as due_at,
    case when is_deciding and plan_status <> 'sent' then new_send_after else send_after end as send_after,
    case when is_deciding and plan_status <> 'sent' then new_send_after else chain_time end as chain_time,
    case when is_deciding and new_status = 'planned' and is_capped then {{ cdp_local_day('new_send_after', 'time_zone') }}
        else occupied_day end as occupied_day,
    case when is_deciding and new_status = 'planned' and is_capped
        then {{ cdp_week_start(cdp_local_day('new_send_after', 'time_zone')) }} else occupied_week end as occupied_week,
    case
        when not is_deciding or new_status <> 'planned' then deferred_by
        when new_slot_day > 0 then 'frequency_cap'
        when new_send_after > greatest(ready_due_at, {{ as_of }}) then 'quiet_hours'
    end as deferred_by,
    case when is_deciding then {{ round }} else allocation_round end as allocation_round,
    case when is_deciding then new_detail else allocation_detail end as allocation_detail,
    case when is_deciding then new_slot_day else cap_slot_day end as cap_slot_day,
    case when is_deciding then new_day_load else cap_day_load end as cap_day_load,
    case when is_deciding then new_week_load else cap_week_load end as cap_week_load,
    case when is_deciding then new_duplicate_offer_at else duplicate_offer_at end as duplicate_offer_at
{%- endmacro %}

{#-
    A round that gives slots: per person, the ready capped pending message of highest
    priority (then earliest due, then key) is the pick; it takes the first local day,
    from its first possible moment up to cdp__plan_max_deferral_days ahead, with room
    under every cap and inside its validity window, unless its offer already reached the
    person within the offer's window. Every other ready row that needs no slot (sent,
    presuppressed, transactional) gets its time as well.
-#}
{% macro cdp_plan_slot_round(previous, round) -%}
    {%- set max_deferral_days = var('cdp__plan_max_deferral_days') -%}
    {%- set channel_caps = var('cdp__frequency_caps_per_channel') or {} -%}
    {%- set channels = cdp_message_channels() -%}
    {%- set as_of = cdp_as_of() -%}
    select
        {{ cdp_plan_next_state(round) }}
    from (
        select
            *,
            case
                when not is_ready or plan_status <> 'pending' then plan_status
                when is_presuppressed then 'suppressed'
                when is_expired then 'suppressed'
                when not is_capped then 'planned'
                when offer_taken_at is not null then 'suppressed'
                when slot_day is not null then 'planned'
                else 'suppressed'
            end as new_status,
            case
                when is_presuppressed or not is_capped and not is_expired then cast(null as {{ dbt.type_string() }})
                when is_expired then 'expired'
                when offer_taken_at is not null then 'duplicate_offer'
                when slot_day is null then 'frequency_cap'
            end as new_reason,
            case
                when is_presuppressed or not is_capped or is_expired or offer_taken_at is not null or slot_day is null
                    then earliest_send_at
                {%- for day in range(1, max_deferral_days + 1) %}
                when slot_day = {{ day }} then slot_opens_at_{{ day }}
                {%- endfor %}
                else earliest_send_at
            end as new_send_after,
            case
                when is_capped and not is_presuppressed and not is_expired and offer_taken_at is null and slot_day is null
                    then case
                        when deadline_at is not null and deadline_at < {{ 'earliest_send_at' if max_deferral_days == 0 else 'slot_opens_at_' ~ max_deferral_days }}
                            then 'no_slot_before_validity_ends'
                        else 'no_slot_within_max_deferral_days'
                    end
            end as new_detail,
            case when is_pick then slot_day end as new_slot_day,
            case when is_pick then day_load_0 end as new_day_load,
            case when is_pick then week_load_0 end as new_week_load,
            case when is_pick then offer_taken_at end as new_duplicate_offer_at
        from (
            select
                *,
                is_ready and (plan_status = 'sent' or (plan_status = 'pending' and (is_presuppressed or not is_capped or is_pick)))
                    as is_deciding,
                coalesce({{ as_of }} > deadline_at, false) as is_expired,
                case
                    {%- for day in range(0, max_deferral_days + 1) %}
                    when is_pick
                        and day_load_{{ day }} < {{ var('cdp__frequency_cap_per_day') }}
                        and week_load_{{ day }} < {{ var('cdp__frequency_cap_per_week') }}
                        {%- for capped_channel, cap in channel_caps.items() %}
                        and (channel_number <> {{ channels.index(capped_channel) }}
                            or (channel_day_load_{{ capped_channel }}_{{ day }} < {{ cap.get('per_day', 1000000) }}
                                and channel_week_load_{{ capped_channel }}_{{ day }} < {{ cap.get('per_week', 1000000) }}))
                        {%- endfor %}
                        and (deadline_at is null or {{ 'earliest_send_at' if day == 0 else 'slot_opens_at_' ~ day }} <= deadline_at)
                        then {{ day }}
                    {%- endfor %}
                end as slot_day
            from (
                {%- set per_day = [] %}
                {%- for day in range(0, max_deferral_days + 1) %}
                    {%- set slot_day = 'cast(' ~ dbt.dateadd('day', day, 'pick_day') ~ ' as date)' %}
                    {%- set in_this_week = cdp_week_start(slot_day) ~ ' = ' ~ cdp_week_start('pick_day') %}
                    {%- do per_day.append(cdp_plan_unpacked_load('day_loads', day) ~ ' as day_load_' ~ day) %}
                    {%- do per_day.append('case when ' ~ in_this_week ~ ' then this_week_load else next_week_load end as week_load_' ~ day) %}
                    {%- for capped_channel in channel_caps %}
                        {%- do per_day.append(cdp_plan_unpacked_load(capped_channel ~ '_day_loads', day) ~ ' as channel_day_load_' ~ capped_channel ~ '_' ~ day) %}
                        {%- do per_day.append('case when ' ~ in_this_week ~ ' then ' ~ capped_channel ~ '_this_week_load else '
                            ~ capped_channel ~ '_next_week_load end as channel_week_load_' ~ capped_channel ~ '_' ~ day) %}
                    {%- endfor %}
                    {%- if day > 0 %}
                        {%- do per_day.append('case when is_pick then ' ~ cdp_local_day_opens_at(slot_day, 'time_zone') ~ ' end as slot_opens_at_' ~ day) %}
                    {%- endif %}
                {%- endfor %}
                select
                    *,
                    {{ per_day | join(',\n                    ') }}
                from (
                    select
                        *,
                        -- Per person: capped messages planned or sent per local day from the pick's
                        -- day on (packed, cdp_plan_packed_loads) and in its week and the next.
                        {{ cdp_plan_packed_loads('is_occupying', 'day_loads') }},
                        sum(case when is_occupying and occupied_week = {{ cdp_week_start('pick_day') }} then 1 else 0 end)
                            over (partition by person_number) as this_week_load,
                        sum(case when is_occupying and occupied_week = {{ cdp_week_start(dbt.dateadd('day', 7, 'pick_day')) }} then 1 else 0 end)
                            over (partition by person_number) as next_week_load,
                        {%- for capped_channel in channel_caps %}
                        {%- set on_channel = 'is_occupying and channel_number = ' ~ channels.index(capped_channel) %}
                        {{ cdp_plan_packed_loads(on_channel, capped_channel ~ '_day_loads') }},
                        sum(case when {{ on_channel }} and occupied_week = {{ cdp_week_start('pick_day') }} then 1 else 0 end)
                            over (partition by person_number) as {{ capped_channel }}_this_week_load,
                        sum(case when {{ on_channel }} and occupied_week = {{ cdp_week_start(dbt.dateadd('day', 7, 'pick_day')) }} then 1 else 0 end)
                            over (partition by person_number) as {{ capped_channel }}_next_week_load,
                        {%- endfor %}
                        max(
                            case
                                when plan_status in ('planned', 'sent', 'history') and offer_number = pick_offer_number
                                    and send_after > {{ cdp_add_minutes('pick_due_at', '-1440 * pick_offer_window_days') }}
                                    and send_after < {{ cdp_add_minutes('pick_due_at', '1440 * pick_offer_window_days') }}
                                    then send_after
                            end
                        ) over (partition by person_number) as offer_taken_at
                from (
                    {%- set pick_order = 'partition by person_number order by case when wants_slot then 0 else 1 end, priority desc, ready_due_at, message_number' %}
                    {%- set whole_partition = pick_order ~ ' rows between unbounded preceding and unbounded following' %}
                    -- The pick is the first row in this order, if it wants a slot; one window
                    -- specification hands its day, due time and offer to every row of the person.
                    select
                        *,
                        plan_status in ('planned', 'sent', 'history') and is_capped as is_occupying,
                        wants_slot and row_number() over ({{ pick_order }}) = 1 as is_pick,
                        first_value(case when wants_slot then {{ cdp_local_day('earliest_send_at', 'time_zone') }} end)
                            over ({{ whole_partition }}) as pick_day,
                        first_value(case when wants_slot then ready_due_at end) over ({{ whole_partition }}) as pick_due_at,
                        first_value(case when wants_slot then offer_number end) over ({{ whole_partition }}) as pick_offer_number,
                        first_value(case when wants_slot then offer_window_days end) over ({{ whole_partition }})
                            as pick_offer_window_days
                    from (
                        select *, is_ready and plan_status = 'pending' and not is_presuppressed and is_capped as wants_slot
                        from ({{ cdp_plan_timed(cdp_plan_readied(previous)) }}) as timed
                    ) as wanting
                ) as picked
                ) as counted
            ) as loaded
        ) as slotted
    ) as decided
{%- endmacro %}

{#-
    A round that gives no slots: every ready row gets its time; a capped message still
    waiting for a slot is suppressed (frequency_cap, allocation_rounds_exhausted). Rows of
    persons who need no slot at all go through these rounds only.
-#}
{% macro cdp_plan_settle_round(previous, round) -%}
    {%- set as_of = cdp_as_of() -%}
    select
        {{ cdp_plan_next_state(round) }}
    from (
        select
            *,
            is_ready and plan_status in ('sent', 'pending') as is_deciding,
            case
                when plan_status <> 'pending' then plan_status
                when is_presuppressed or is_expired or is_capped then 'suppressed'
                else 'planned'
            end as new_status,
            case
                when is_presuppressed then cast(null as {{ dbt.type_string() }})
                when is_expired then 'expired'
                when is_capped then 'frequency_cap'
            end as new_reason,
            earliest_send_at as new_send_after,
            case when is_capped and not is_presuppressed and not is_expired then 'allocation_rounds_exhausted' end
                as new_detail,
            cast(null as {{ dbt.type_int() }}) as new_slot_day,
            cast(null as {{ dbt.type_int() }}) as new_day_load,
            cast(null as {{ dbt.type_int() }}) as new_week_load,
            cast(null as {{ dbt.type_timestamp() }}) as new_duplicate_offer_at
        from (
            select *, coalesce({{ as_of }} > deadline_at, false) as is_expired
            from ({{ cdp_plan_timed(cdp_plan_readied(previous)) }}) as timed
        ) as expiring
    ) as decided
{%- endmacro %}
