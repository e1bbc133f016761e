{#
    Latest consent per person, channel and purpose. Events recorded against any of the
    person's identifiers count (a revocation by customer id stops e-mails to the
    person's address too); the latest event wins, and a revocation wins a tie. A
    `channel = all` event applies to every channel. Marketing and transactional
    consents are separate rows and never stand in for each other.
#}

with consents as (
    select * from {{ ref('stg_privacy__consents') }}
),

identifiers as (
    select * from {{ ref('bdg_person_identifiers') }}
),

channels as (
    {% for channel in cdp_message_channels() %}
        select '{{ channel }}' as channel
        {{ 'union all' if not loop.last }}
    {% endfor %}
),

person_events as (
    select
        identifiers.person_id,
        channels.channel,
        consents.purpose,
        consents.consent_status,
        consents.recorded_at,
        consents.consent_event_id,
        consents.subject_type,
        consents.channel as recorded_channel
    from consents
    inner join identifiers
        on identifiers.identifier_type = {{ cdp_subject_identifier_type('consents.subject_type') }}
        and consents.subject_value = identifiers.identifier_value
    inner join channels
        on consents.channel = channels.channel or consents.channel = 'all'
),

ranked as (
    select
        *,
        row_number() over (
            partition by person_id, channel, purpose
            order by recorded_at desc, case when consent_status = 'revoked' then 0 else 1 end, consent_event_id asc
        ) as recency_rank
    from person_events
),

latest as (
    select
        {{ cdp_surrogate_key(['person_id', 'channel', 'purpose']) }} as person_consent_key,
        person_id,
        channel,
        purpose,
        consent_status,
        recorded_at,
        consent_event_id,
        subject_type,
        recorded_channel
    from ranked
    where recency_rank = 1
)

select * from latest
