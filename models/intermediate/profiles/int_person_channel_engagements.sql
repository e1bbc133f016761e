{#
    How each person engaged with messages per channel over the last
    cdp__profiles_engagement_lookback_days: opens and clicks count, deliveries and sends
    do not; a complaint or unsubscribe on a channel disqualifies it as preferred. The
    events and the person each concerns come from fct_message_events (provider reports
    resolved through the identity graph, plus activation's own send outcomes).
#}

with message_events as (
    select * from {{ ref('fct_message_events') }}
    where
        person_id is not null
        and occurred_at > {{ dbt.dateadd('day', -var('cdp__profiles_engagement_lookback_days'), cdp_as_of()) }}
),

per_channel as (
    select
        person_id,
        channel,
        sum(case when event_type = 'opened' then 1 else 0 end) as opens,
        sum(case when event_type = 'clicked' then 1 else 0 end) as clicks,
        max(case when event_type in ('opened', 'clicked') then occurred_at end) as last_engaged_at,
        max(case when event_type in ('complained', 'unsubscribed') then 1 else 0 end) = 1 as has_opted_out
    from message_events
    group by person_id, channel
),

ranked as (
    select
        {{ cdp_surrogate_key(['person_id', 'channel']) }} as person_channel_key,
        *,
        case
            when not has_opted_out and opens + clicks > 0 then row_number() over (
                partition by person_id
                order by
                    case when not has_opted_out and opens + clicks > 0 then 0 else 1 end,
                    clicks desc, opens desc, last_engaged_at desc, channel asc
            )
        end as preference_rank
    from per_channel
)

select * from ranked
