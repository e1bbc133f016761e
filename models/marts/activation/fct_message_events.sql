{#
    The message history: delivery and engagement events the providers report (raw
    source message_events) and activation's own send outcomes (activation.message_events,
    written by `cdp sync`), each with the person it concerns now. Profiles read the
    engagement from here (preferred_channel); the message plan reads "already sent".

    Provider events name a recipient, resolved to a person through the identity graph
    by the identifier types the channel registry (cdp__channels) lists for the channel,
    in its order: e-mail address, phone for SMS and WhatsApp, push token (else device)
    for app push, browser id for web push. Activation events name the person the message
    was planned for; an id merged away since is followed to its survivor
    (int_person_ids_resolved). Activation's table has its real types (its migrations run
    before dbt), so it is read as it is.
#}

{%- set recipient_types = [] -%}
{%- for channel in cdp_channels() -%}
    {%- for identifier_type in channel.identifier_types -%}
        {%- do recipient_types.append({
            'channel': channel.channel, 'identifier_type': identifier_type, 'preference': loop.index}) -%}
    {%- endfor -%}
{%- endfor %}

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
    {%- for recipient_type in recipient_types %}
        {%- if not loop.first %}
            union all
        {%- endif %}
        select
            '{{ recipient_type.channel }}' as channel,
            '{{ recipient_type.identifier_type }}' as identifier_type,
            {{ recipient_type.preference }} as preference
    {%- endfor %}
),

provider_recipients as (
    select
        provider_events.message_event_id,
        identifiers.person_id,
        row_number() over (
            partition by provider_events.message_event_id order by recipient_types.preference
        ) as resolution_rank
    from provider_events
    inner join recipient_types on provider_events.channel = recipient_types.channel
    inner join identifiers
        on recipient_types.identifier_type = identifiers.identifier_type
        and provider_events.recipient = identifiers.identifier_value
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
        on provider_events.message_event_id = provider_recipients.message_event_id
        and provider_recipients.resolution_rank = 1
),

activation_resolved as (
    select
        'activation' as event_source,
        activation_events.message_event_id as source_event_id,
        activation_events.message_key,
        activation_events.message_id,
        activation_events.provider,
        activation_events.channel,
        person_ids.current_person_id as person_id,
        activation_events.recipient,
        -- Activation's sends have no provider campaign: their journey stands in for it.
        activation_events.journey as campaign,
        activation_events.journey,
        activation_events.step,
        activation_events.event_type,
        activation_events.occurred_at
    from activation_events
    left join person_ids on activation_events.person_id = person_ids.issued_person_id
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
