{#
    How each person engaged with messages per channel over the last
    cdp__profiles_engagement_lookback_days: opens and clicks count, deliveries do not; a
    complaint or unsubscribe on a channel disqualifies it as preferred. Recipients are
    resolved to persons through the identity graph: e-mail address, phone for SMS and
    WhatsApp, push token (else device) for app push, browser id for web push.
#}

with message_events as (
    select * from {{ ref('stg_messaging__message_events') }}
    where occurred_at > {{ dbt.dateadd('day', -var('cdp__profiles_engagement_lookback_days'), cdp_as_of()) }}
),

identifiers as (
    select * from {{ ref('bdg_person_identifiers') }}
),

recipient_types as (
    select 'email' as channel, 'email' as identifier_type, 1 as preference
    union all select 'sms', 'phone', 1
    union all select 'whatsapp', 'phone', 1
    union all select 'app_push', 'push_token', 1
    union all select 'app_push', 'device_id', 2
    union all select 'web_push', 'anonymous_id', 1
),

resolved as (
    select
        message_events.*,
        identifiers.person_id,
        row_number() over (
            partition by message_events.message_event_id order by recipient_types.preference
        ) as resolution_rank
    from message_events
    inner join recipient_types on recipient_types.channel = message_events.channel
    inner join identifiers
        on identifiers.identifier_type = recipient_types.identifier_type
        and identifiers.identifier_value = message_events.recipient
),

per_channel as (
    select
        person_id,
        channel,
        sum(case when event_type = 'opened' then 1 else 0 end) as opens,
        sum(case when event_type = 'clicked' then 1 else 0 end) as clicks,
        max(case when event_type in ('opened', 'clicked') then occurred_at end) as last_engaged_at,
        max(case when event_type in ('complained', 'unsubscribed') then 1 else 0 end) = 1 as has_opted_out
    from resolved
    where resolution_rank = 1
    group by person_id, channel
),

ranked as (
    select
        {{ cdp_surrogate_key(['person_id', 'channel']) }} as person_channel_key,
        *,
        case
            when not has_opted_out and opens + clicks > 0 then row_number() over (
                partition by person_id
                order by case when not has_opted_out and opens + clicks > 0 then 0 else 1 end,
                    clicks desc, opens desc, last_engaged_at desc, channel
            )
        end as preference_rank
    from per_channel
)

select * from ranked
