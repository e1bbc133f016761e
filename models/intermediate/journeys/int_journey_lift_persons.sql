{#
    Who lift compares, and what they bought: one row per comparison and person.

    Journey holdouts (comparison journey_holdout, one per journey): the persons whose
    messages of the journey reached its holdout draw, from the decision log
    (fct_message_decisions, which keeps messages that left the plan). Held out: a
    decision with reason holdout. Treated: a decision planned, already sent, or
    suppressed only by a rule applied after the draw (expired, duplicate_offer,
    frequency_cap): assigned to receive the journey, whether or not a slot was found
    (intention to treat, so that both sides are chosen by the same rules and the split
    can be checked against the journey's holdout_share). Persons suppressed before the
    draw (no consent, global control, ...) are on neither side.

    Global control (comparison global_control, one row per person for all promotional
    journeys together): held out are the persons with a decision global_control; treated
    those whose promotional messages passed the global draw (treated or held out of a
    journey). It measures the promotional programme as a whole against
    cdp__global_control_share.

    Decisions are read through int_person_ids_resolved (a merged-away id counts as its
    survivor). A person found on both sides (possible only after a merge, or a change
    of holdout share) is side both and measured on neither. The attribution window runs
    cdp__lift_attribution_days from the person's first due_at in the comparison;
    purchases on any channel in it (fct_purchases, fully returned ones excluded) count.
    A window not yet over at cdp__as_of is open: its person counts in the split, not in
    the outcomes.
#}
{%- set reasons = cdp_suppression_reasons() -%}
{%- set after_draw = reasons[reasons.index('holdout') + 1:] -%}
{%- set as_of = cdp_as_of() %}

with decisions as (
    select * from {{ ref('fct_message_decisions') }}
    where due_at is not null
),

person_ids as (
    select * from {{ ref('int_person_ids_resolved') }}
),

purchases as (
    select * from {{ ref('fct_purchases') }}
    where person_id is not null and not is_fully_returned
),

journey_steps as (
    {{ cdp_journey_steps_table() }}
),

journey_shares as (
    select
        journey,
        max(holdout_share) as holdout_share
    from journey_steps
    group by journey
),

assignments as (
    select
        coalesce(person_ids.current_person_id, decisions.person_id) as person_id,
        decisions.journey,
        decisions.purpose,
        decisions.due_at,
        case
            when decisions.suppression_reason = 'holdout' then 'held_out'
            when decisions.suppression_reason = 'global_control' then 'global_control'
            when decisions.status = 'planned' then 'treated'
            {%- for reason in ['already_sent'] + after_draw %}
                when decisions.suppression_reason = '{{ reason }}' then 'treated'
            {%- endfor %}
        end as arm
    from decisions
    left join person_ids on decisions.person_id = person_ids.issued_person_id
),

compared as (
    select
        'journey_holdout' as comparison,
        assignments.journey,
        assignments.person_id,
        assignments.arm as side,
        assignments.due_at,
        -- Buckets are 1/10,000 wide: the share as the draw applies it, without single precision's tail.
        round(cast(journey_shares.holdout_share as {{ cdp_type_double() }}), 4) as expected_held_out_share
    from assignments
    inner join journey_shares on assignments.journey = journey_shares.journey
    where assignments.arm in ('treated', 'held_out')
    union all
    select
        'global_control' as comparison,
        cast(null as {{ dbt.type_string() }}) as journey,
        person_id,
        case when arm = 'global_control' then 'held_out' else 'treated' end as side,
        due_at,
        cast({{ var('cdp__global_control_share') }} as {{ cdp_type_double() }}) as expected_held_out_share
    from assignments
    where purpose = 'promotional' and arm is not null
),

persons as (
    select
        comparison,
        journey,
        person_id,
        case when min(side) = max(side) then min(side) else 'both' end as side,
        min(expected_held_out_share) as expected_held_out_share,
        min(due_at) as window_starts_at
    from compared
    group by comparison, journey, person_id
),

windows as (
    select
        *,
        {{ dbt.dateadd('day', var('cdp__lift_attribution_days'), 'window_starts_at') }} as window_ends_at
    from persons
),

outcomes as (
    select
        windows.comparison,
        windows.journey,
        windows.person_id,
        count(purchases.purchase_id) as purchases,
        coalesce(sum(purchases.net_amount), 0) as revenue
    from windows
    left join purchases
        on windows.person_id = purchases.person_id
        and windows.window_starts_at <= purchases.purchased_at
        and windows.window_ends_at > purchases.purchased_at
    group by windows.comparison, windows.journey, windows.person_id
),

final as (
    select
        {{ cdp_surrogate_key(['windows.comparison', 'windows.journey', 'windows.person_id']) }} as lift_person_key,
        windows.comparison,
        windows.journey,
        windows.person_id,
        windows.side,
        windows.expected_held_out_share,
        windows.window_starts_at,
        windows.window_ends_at,
        windows.window_ends_at <= {{ as_of }} as is_window_closed,
        outcomes.purchases,
        outcomes.purchases > 0 as is_converted,
        cast(outcomes.revenue as {{ cdp_type_double() }}) as revenue
    from windows
    inner join outcomes
        on windows.comparison = outcomes.comparison
        and windows.person_id = outcomes.person_id
        and coalesce(windows.journey, '') = coalesce(outcomes.journey, '')
)

select * from final
