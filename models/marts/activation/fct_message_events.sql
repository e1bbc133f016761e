{#
    The message history: delivery and engagement events the providers report (raw
    source message_events) and activation's own send outcomes (activation.message_events,
    written by `cdp sync`), each with the person it concerns now. Profiles read the
    engagement from here (preferred_channel); the message plan reads "already sent".

    Provider events name a recipient, resolved to a person through the identity graph:
    e-mail address, phone for SMS and WhatsApp, push token (else device) for app push,
    browser id for web push. Activation events name the person the message was planned
    for; an id merged away since is followed to its survivor (int_person_ids_resolved).
#}

with provider_events as (
    select * from {{ ref('stg_messaging__message_events') }}
),

activation_events as (
    select * from {{ source('cdp_activation', 'message_events') }}
),

identifiers as (
    select * from {{ ref('bdg_person_identifiers') }}
),

person_ids as (
    select * from {{ ref('int_person_ids_resolved') }}
),

recipient_types as (
    select 'email' as channel, 'email' as identifier_type, 1 as preference
    union all select 'sms', 'phone', 1
    union all select 'whatsapp', 'phone', 1
    union all select 'app_push', 'push_token', 1
    union all select 'app_push', 'device_id', 2
    union all select 'web_push', 'anonymous_id', 1
),

provider_recipients as (
    select
        provider_events.message_event_id,
        identifiers.person_id,
        row_number() over (
            partition by provider_events.message_event_id order by recipient_types.preference
        ) as resolution_rank
    from provider_events
    inner join recipient_types on recipient_types.channel = provider_events.channel
    inner join identifiers
        on identifiers.identifier_type = recipient_types.identifier_type
        and identifiers.identifier_value = provider_events.recipient
),

provider_resolved as (
    select
        'provider_report' as event_source,
        provider_events.message_event_id as source_event_id,
        cast(null as {{ dbt.type_string() }}) as message_key,
        provider_events.message_id,
        provider_events.provider,
        provider_events.channel,
        provider_recipients.person_id,
        provider_events.recipient,
        provider_events.campaign,
        cast(null as {{ dbt.type_string() }}) as journey,
        cast(null as {{ dbt.type_int() }}) as step,
        provider_events.event_type,
        provider_events.occurred_at
    from provider_events
    left join provider_recipients
        on provider_recipients.message_event_id = provider_events.message_event_id
        and provider_recipients.resolution_rank = 1
),

-- Cast throughout: before the first sync the source is an all-text placeholder.
activation_typed as (
    select
        cast(message_event_id as {{ dbt.type_string() }}) as source_event_id,
        cast(message_key as {{ dbt.type_string() }}) as message_key,
        cast(message_id as {{ dbt.type_string() }}) as message_id,
        cast(provider as {{ dbt.type_string() }}) as provider,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(person_id as {{ dbt.type_string() }}) as recorded_person_id,
        cast(recipient as {{ dbt.type_string() }}) as recipient,
        cast(campaign as {{ dbt.type_string() }}) as campaign,
        {{ cdp_try_cast('step', dbt.type_int()) }} as step,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(occurred_at as {{ dbt.type_timestamp() }}) as occurred_at
    from activation_events
),

activation_resolved as (
    select
        'activation' as event_source,
        activation_typed.source_event_id,
        activation_typed.message_key,
        activation_typed.message_id,
        activation_typed.provider,
        activation_typed.channel,
        person_ids.current_person_id as person_id,
        activation_typed.recipient,
        activation_typed.campaign,
        activation_typed.campaign as journey,
        activation_typed.step,
        activation_typed.event_type,
        activation_typed.occurred_at
    from activation_typed
    left join person_ids on person_ids.issued_person_id = activation_typed.recorded_person_id
),

unioned as (
    select * from provider_resolved
    union all
    select * from activation_resolved
),

keyed as (
    select
        {{ cdp_surrogate_key(['event_source', 'source_event_id']) }} as message_event_id,
        *
    from unioned
)

select * from keyed
