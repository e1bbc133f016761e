{#
    Every occurrence of every journey (var cdp__journeys) in the plan's windows, with
    what decides whether it runs: the re-entry rule, the goal and stale sources.

    An occurrence is one business object a journey is about (int_journey_* models): an
    audience spell (fct_audience_memberships: audience and entered_at), a cart, a
    browse, a purchase, a tier upgrade, a lot of expiring points. occurrence_key names
    it within the journey and the person, the same on every build.

    Re-entry: an occurrence enters unless an earlier occurrence of the same journey for
    the same person started within reentry_gap_days before it. An earlier occurrence
    started if it entered this plan, or if a message of the journey was sent to the
    person then (activation's send history, which outlives the plan's windows). Earlier
    occurrences are decided first (by entered_at, then key), so a blocked occurrence
    blocks nothing. Each of cdp__journey_reentry_rounds rounds decides at least the
    earliest undecided occurrence per person and journey; any left undecided is held
    back (reentry_rounds_exhausted).

    Goal: the first goal event after the entry, up to cdp__as_of (goal_met_at).
#}
{%- set journeys = cdp_journeys() -%}
{%- set kinds = journeys | map(attribute='entry_kind') | list -%}
{%- set goals = journeys | map(attribute='goal') | list -%}
{%- set null_text = 'cast(null as ' ~ dbt.type_string() ~ ')' -%}
{%- set null_number = 'cast(null as ' ~ dbt.type_bigint() ~ ')' -%}
{%- set null_timestamp = 'cast(null as ' ~ dbt.type_timestamp() ~ ')' %}

with memberships as (
    select * from {{ ref('fct_audience_memberships') }}
),

carts as (
    select * from {{ ref('int_journey_carts') }}
),

browse_sessions as (
    select * from {{ ref('int_journey_browse_sessions') }}
),

purchases as (
    select * from {{ ref('int_journey_purchases') }}
),

purchased_products as (
    select * from {{ ref('int_journey_purchased_products') }}
),

tier_changes as (
    select * from {{ ref('fct_loyalty_tier_changes') }}
    where change_direction = 'upgrade' and person_id is not null and changed_at <= {{ cdp_as_of() }}
),

points_lots as (
    select * from {{ ref('int_journey_points_lots') }}
),

point_entries as (
    select * from {{ ref('stg_loyalty__point_entries') }}
    where reason = 'redeem' and occurred_at <= {{ cdp_as_of() }}
),

loyalty_cards as (
    select * from {{ ref('bdg_person_identifiers') }}
    where identifier_type = 'loyalty_card_id'
),

survey_responses as (
    select * from {{ ref('stg_surveys__responses') }}
    where responded_at <= {{ cdp_as_of() }}
),

source_row_persons as (
    select * from {{ ref('int_identity_source_row_persons') }}
    where source_model = 'stg_surveys__responses'
),

source_freshness as (
    select * from {{ ref('int_journey_source_freshness') }}
),

sends as (
    select * from {{ ref('fct_message_events') }}
    where event_source = 'activation' and event_type in ('sent', 'unknown') and person_id is not null
),

person_ids as (
    select * from {{ ref('int_person_ids_resolved') }}
    where is_merged_away
),

entries as (
    {% for journey in journeys %}
        {%- set kind = journey.entry_kind %}
        {%- set head = "'" ~ journey.journey ~ "' as journey, person_id" %}
        {%- if kind == 'audience' %}
            {%- set audience_key = dbt.concat([
                "'audience|" ~ journey.audience ~ "|'", 'cast(entered_at as ' ~ dbt.type_string() ~ ')']) %}
            select
                {{ head }},
                {{ audience_key }} as occurrence_key,
                entered_at,
                {{ null_text }} as product_ids,
                {{ null_number }} as points_expiring,
                {{ null_timestamp }} as points_expire_at
            from memberships
            where audience_name = '{{ journey.audience }}'
        {%- elif kind == 'cart_abandoned' %}
            select
                {{ head }},
                {{ dbt.concat(["'cart|'", 'product_ids']) }} as occurrence_key,
                abandoned_at as entered_at,
                product_ids,
                {{ null_number }} as points_expiring,
                {{ null_timestamp }} as points_expire_at
            from carts
        {%- elif kind == 'browse_abandoned' %}
            select
                {{ head }},
                {{ dbt.concat(["'browse|'", 'product_ids']) }} as occurrence_key,
                last_viewed_at as entered_at,
                product_ids,
                {{ null_number }} as points_expiring,
                {{ null_timestamp }} as points_expire_at
            from browse_sessions
        {%- elif kind in ('purchase_completed', 'nth_purchase') %}
            {%- set lookback_start = dbt.dateadd('day', -var('cdp__journey_purchase_lookback_days'), cdp_as_of()) %}
            select
                {{ head }},
                {{ dbt.concat(["'purchase|'", 'purchase_id']) }} as occurrence_key,
                purchased_at as entered_at,
                product_ids,
                {{ null_number }} as points_expiring,
                {{ null_timestamp }} as points_expire_at
            from purchases
            where
                purchased_at > {{ lookback_start }}
                {%- if kind == 'purchase_completed' %}
                    and is_completed
                {%- else %}
                    and purchase_number = {{ journey.n }}
                {%- endif %}
        {%- elif kind == 'tier_upgraded' %}
            {%- set lookback_start = dbt.dateadd('day', -var('cdp__journey_tier_upgrade_lookback_days'), cdp_as_of()) %}
            select
                {{ head }},
                {{ dbt.concat(["'tier_change|'", 'tier_change_id']) }} as occurrence_key,
                changed_at as entered_at,
                {{ null_text }} as product_ids,
                {{ null_number }} as points_expiring,
                {{ null_timestamp }} as points_expire_at
            from tier_changes
            where changed_at > {{ lookback_start }}
        {%- elif kind == 'points_expiring' %}
            select
                {{ head }},
                {{ dbt.concat(["'points_lot|'", 'lot_id']) }} as occurrence_key,
                -- the moment the lot came within the notice period (or was earned, if later)
                greatest(earned_at, {{ dbt.dateadd('day', -journey.within_days, 'expires_at') }}) as entered_at,
                {{ null_text }} as product_ids,
                cast(points_remaining as {{ dbt.type_bigint() }}) as points_expiring,
                expires_at as points_expire_at
            from points_lots
            where expires_at <= {{ dbt.dateadd('day', journey.within_days, cdp_as_of()) }}
        {%- else %}
            {{ exceptions.raise_compiler_error('cdp__journeys: entry kind ' ~ kind ~ ' has no occurrences') }}
        {%- endif %}
        {{ 'union all' if not loop.last }}
    {% endfor %}
),

occurrences as (
    select
        {{ cdp_surrogate_key(['entries.journey', 'entries.person_id', 'entries.occurrence_key']) }} as occurrence_id,
        entries.*,
        case entries.journey
            {% for journey in journeys %}
                when '{{ journey.journey }}' then {{ journey.reentry_gap_days }}
            {% endfor %}
        end as reentry_gap_days,
        case entries.journey
            {% for journey in journeys %}
                when
                    '{{ journey.journey }}'
                    then {{ dbt.dateadd('day', -journey.reentry_gap_days, 'entries.entered_at') }}
            {% endfor %}
        end as reentry_gap_starts_at,
        case entries.journey
            {% for journey in journeys %}
                when '{{ journey.journey }}' then '{{ journey.goal }}'
            {% endfor %}
        end as goal
    from entries
    where entries.person_id is not null
),

goal_events as (
    select
        person_id,
        'any_purchase' as goal,
        purchased_at as occurred_at,
        {{ null_text }} as product_id
    from purchases
    union all
    select
        person_id,
        'purchase_of_products' as goal,
        purchased_at as occurred_at,
        product_id
    from purchased_products
    union all
    select
        source_row_persons.person_id,
        'survey_answer' as goal,
        survey_responses.responded_at as occurred_at,
        {{ null_text }} as product_id
    from survey_responses
    inner join source_row_persons on survey_responses.survey_response_id = source_row_persons.source_key
    union all
    select
        person_id,
        'next_tier_reached' as goal,
        changed_at as occurred_at,
        {{ null_text }} as product_id
    from tier_changes
    union all
    select
        loyalty_cards.person_id,
        'points_redeemed' as goal,
        point_entries.occurred_at,
        {{ null_text }} as product_id
    from point_entries
    inner join loyalty_cards on point_entries.loyalty_card_id = loyalty_cards.identifier_value
),

goals_met as (
    select
        occurrences.occurrence_id,
        min(goal_events.occurred_at) as goal_met_at
    from occurrences
    inner join goal_events
        on occurrences.person_id = goal_events.person_id
        and occurrences.goal = goal_events.goal
        and occurrences.entered_at < goal_events.occurred_at
    where
        goal_events.goal <> 'purchase_of_products'
        or {{ cdp_list_contains('occurrences.product_ids', 'goal_events.product_id') }}
    group by occurrences.occurrence_id
),

stale_journeys as (
    {% for journey in journeys %}
        {% if journey.sources %}
            {%- set source_tables = "'" ~ journey.sources | join("', '") ~ "'" %}
            select
                '{{ journey.journey }}' as journey,
                nullif({{ cdp_sorted_string_agg('source_table', ',') }}, '') as stale_sources
            from source_freshness
            where
                is_stale
                and source_table in ({{ source_tables }})
        {% else %}
            select
                '{{ journey.journey }}' as journey,
                {{ null_text }} as stale_sources
        {% endif %}
        {{ 'union all' if not loop.last }}
    {% endfor %}
),

-- The keys the occurrence's own steps have (also under ids since merged into the
-- person): its own sends never hold it back, even when its entry moved later (a cart
-- touched again after its reminder went out).
own_message_keys as (
    {%- for step in range(1, cdp_journey_max_steps() + 1) %}
        select
            occurrence_id,
            {{ cdp_surrogate_key(['person_id', 'journey', 'occurrence_key', step]) }} as message_key
        from occurrences
        union all
        select
            occurrences.occurrence_id,
            {{ cdp_surrogate_key([
                'person_ids.issued_person_id', 'occurrences.journey', 'occurrences.occurrence_key', step,
            ]) }} as message_key
        from occurrences
        inner join person_ids on occurrences.person_id = person_ids.current_person_id
        {{ 'union all' if not loop.last }}
    {%- endfor %}
),

-- The latest send of another occurrence of the journey to the person before this one entered.
prior_sends as (
    select
        occurrences.occurrence_id,
        max(sends.occurred_at) as latest_prior_send_at
    from occurrences
    inner join sends
        on occurrences.person_id = sends.person_id
        and occurrences.journey = sends.journey
        and occurrences.entered_at > sends.occurred_at
    left join own_message_keys
        on occurrences.occurrence_id = own_message_keys.occurrence_id
        and sends.message_key = own_message_keys.message_key
    where own_message_keys.message_key is null
    group by occurrences.occurrence_id
),

reentry_round_0 as (
    select
        occurrences.*,
        case
            when occurrences.reentry_gap_days = 0 then 'entered'
            when prior_sends.latest_prior_send_at >= occurrences.reentry_gap_starts_at then 'blocked'
            else 'undecided'
        end as reentry_decision,
        case
            when
                occurrences.reentry_gap_days > 0
                and prior_sends.latest_prior_send_at >= occurrences.reentry_gap_starts_at
                then 'send_history'
        end as reentry_blocked_by,
        case
            when
                occurrences.reentry_gap_days > 0
                and prior_sends.latest_prior_send_at >= occurrences.reentry_gap_starts_at
                then prior_sends.latest_prior_send_at
        end as reentry_blocking_at
    from occurrences
    left join prior_sends on occurrences.occurrence_id = prior_sends.occurrence_id
),
{% for round in range(1, var('cdp__journey_reentry_rounds') + 1) %}

    reentry_round_{{ round }} as (
        select
            occurrence_id,
            journey,
            person_id,
            occurrence_key,
            entered_at,
            product_ids,
            points_expiring,
            points_expire_at,
            reentry_gap_days,
            reentry_gap_starts_at,
            goal,
            case
                when reentry_decision <> 'undecided' then reentry_decision
                when latest_entered_before >= reentry_gap_starts_at then 'blocked'
                when latest_undecided_before >= reentry_gap_starts_at then 'undecided'
                else 'entered'
            end as reentry_decision,
            case
                when reentry_decision <> 'undecided' then reentry_blocked_by
                when latest_entered_before >= reentry_gap_starts_at then 'earlier_occurrence'
            end as reentry_blocked_by,
            case
                when reentry_decision <> 'undecided' then reentry_blocking_at
                when latest_entered_before >= reentry_gap_starts_at then latest_entered_before
            end as reentry_blocking_at
        from (
            select
                *,
                -- entered_at and occurrence_key are never null; `nulls first` keeps the
                -- windows transpilable to warehouses whose default null order differs
                max(case when reentry_decision = 'entered' then entered_at end) over (
                    partition by person_id, journey order by entered_at nulls first, occurrence_key nulls first
                    rows between unbounded preceding and 1 preceding
                ) as latest_entered_before,
                max(case when reentry_decision = 'undecided' then entered_at end) over (
                    partition by person_id, journey order by entered_at nulls first, occurrence_key nulls first
                    rows between unbounded preceding and 1 preceding
                ) as latest_undecided_before
            from reentry_round_{{ round - 1 }}
        ) as windowed
    ),
{% endfor %}

decided as (
    select * from reentry_round_{{ var('cdp__journey_reentry_rounds') }}
),

final as (
    select
        decided.occurrence_id,
        decided.journey,
        decided.person_id,
        decided.occurrence_key,
        decided.entered_at,
        decided.product_ids,
        decided.points_expiring,
        decided.points_expire_at,
        decided.reentry_decision = 'entered' as has_entered,
        case
            when decided.reentry_decision = 'undecided' then 'reentry_rounds_exhausted'
            else decided.reentry_blocked_by
        end as reentry_blocked_by,
        decided.reentry_blocking_at,
        decided.goal,
        goals_met.goal_met_at,
        stale_journeys.stale_sources
    from decided
    left join goals_met on decided.occurrence_id = goals_met.occurrence_id
    left join stale_journeys on decided.journey = stale_journeys.journey
)

select * from final
