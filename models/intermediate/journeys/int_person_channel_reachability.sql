{#
    Whether each person can be reached on each channel of the registry (cdp__channels),
    and why: the rule is the channel's `reachability` field.
      email_address   a valid e-mail address (staging keeps only valid ones);
      e164_phone      a phone in E.164 (libphonenumber found it valid);
      whatsapp_phone  that phone opted in to WhatsApp: a WhatsApp (or all-channel)
                      consent was granted against it, the opt-in WhatsApp's business
                      policy requires before any message;
      push_token      a push token whose latest opt-in/opt-out app event is not an opt-out;
      browser         a known browser (anonymous_id) and a web push subscription: a
                      web_push consent granted (for any purpose) against one of the
                      person's identifiers, the browser's permission prompt.
    Consent is checked where the message is planned; this says only whether an address exists.
#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

identifiers as (
    select * from {{ ref('bdg_person_identifiers') }}
),

app_events as (
    select * from {{ ref('stg_app__events') }}
    where event_type in ('push_opt_in', 'push_opt_out') and push_token is not null
),

consents as (
    select * from {{ ref('stg_privacy__consents') }}
),

whatsapp_phones as (
    select distinct subject_value as phone
    from consents
    where subject_type = 'phone' and channel in ('whatsapp', 'all') and consent_status = 'granted'
),

web_push_subscribers as (
    select distinct identifiers.person_id
    from consents
    inner join identifiers
        on identifiers.identifier_type = {{ cdp_subject_identifier_type('consents.subject_type') }}
        and consents.subject_value = identifiers.identifier_value
    where consents.channel in ('web_push', 'all') and consents.consent_status = 'granted'
),

push_choices as (
    select
        push_token,
        event_type,
        row_number() over (
            partition by push_token
            order by occurred_at desc, case when event_type = 'push_opt_out' then 0 else 1 end
        ) as recency_rank
    from app_events
),

push_tokens as (
    select
        identifiers.person_id,
        count(*) as token_count,
        sum(case when push_choices.event_type = 'push_opt_out' then 0 else 1 end) as live_token_count
    from identifiers
    left join push_choices
        on identifiers.identifier_value = push_choices.push_token and push_choices.recency_rank = 1
    where identifiers.identifier_type = 'push_token'
    group by identifiers.person_id
),

browsers as (
    select distinct person_id
    from identifiers
    where identifier_type = 'anonymous_id'
),

addresses as (
    select
        persons.person_id,
        persons.email,
        persons.phone,
        whatsapp_phones.phone is not null as has_whatsapp_opt_in_on_phone,
        coalesce(push_tokens.token_count, 0) as push_token_count,
        coalesce(push_tokens.live_token_count, 0) as live_push_token_count,
        browsers.person_id is not null as has_browser,
        web_push_subscribers.person_id is not null as has_web_push_subscription
    from persons
    left join whatsapp_phones on persons.phone = whatsapp_phones.phone
    left join push_tokens on persons.person_id = push_tokens.person_id
    left join browsers on persons.person_id = browsers.person_id
    left join web_push_subscribers on persons.person_id = web_push_subscribers.person_id
),

registry as (
    {% for channel in cdp_channels() %}
        select
            '{{ channel.channel }}' as channel,
            '{{ channel.reachability }}' as reachability
        {{ 'union all' if not loop.last }}
    {% endfor %}
),

-- One pass over the persons: each row meets every channel of the registry.
reasons as (
    select
        addresses.person_id,
        registry.channel,
        case registry.reachability
            {% for rule in cdp_channels() | map(attribute='reachability') | unique %}
                when '{{ rule }}' then {{ cdp_reachability_reason(rule) }}
            {% endfor %}
        end as reachability_reason
    from addresses
    cross join registry
),

final as (
    select
        {{ cdp_surrogate_key(['person_id', 'channel']) }} as person_channel_key,
        person_id,
        channel,
        reachability_reason in ({{ "'" ~ cdp_reachable_reasons() | join("', '") ~ "'" }}) as is_reachable,
        reachability_reason
    from reasons
)

select * from final
