{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=cdp_allow_decision_log_refresh(),
) }}
{#-
    Append-only log of the plan's decisions, for measurement: each message_key's first
    decision and every later change of its status or suppression reason, with the
    plan's moment (decided_at = cdp__as_of of the build). Rows of messages that left
    the plan (their occurrence aged out of its windows) stay, so lift can compare
    treated and held-out persons (reasons holdout, global_control) long after. A
    rebuild that decides the same appends nothing. Guarded like the identity state:
    `--full-refresh` keeps it unless var cdp__plan_allow_decision_log_refresh is true.
-#}

with plan as (
    select * from {{ ref('fct_message_plan') }}
),

logged as (
    {{ cdp_incremental_history({
        'message_key': dbt.type_string(),
        'decision_number': dbt.type_int(),
        'status': dbt.type_string(),
        'suppression_reason': dbt.type_string()
    }) }}
),

latest_logged as (
    select
        message_key,
        decision_number,
        status,
        suppression_reason
    from (
        select
            message_key,
            decision_number,
            status,
            suppression_reason,
            row_number() over (partition by message_key order by decision_number desc) as recency_rank
        from logged
    ) as ranked
    where recency_rank = 1
),

changed as (
    select
        plan.*,
        coalesce(latest_logged.decision_number, 0) + 1 as decision_number,
        case when latest_logged.message_key is null then 'first' else 'changed' end as decision_change
    from plan
    left join latest_logged on plan.message_key = latest_logged.message_key
    where
        latest_logged.message_key is null
        or latest_logged.status <> plan.status
        or coalesce(latest_logged.suppression_reason, '') <> coalesce(plan.suppression_reason, '')
),

final as (
    select
        {{ cdp_surrogate_key(['message_key', 'decision_number']) }} as decision_id,
        message_key,
        decision_number,
        decision_change,
        person_id,
        journey,
        step,
        occurrence_key,
        channel,
        purpose,
        status,
        suppression_reason,
        offer_key,
        due_at,
        send_after,
        plan_built_at as decided_at
    from changed
)

select * from final
