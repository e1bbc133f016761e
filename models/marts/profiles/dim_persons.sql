{#
    The one customer view: who the person is (golden record from identity), what they
    bought, where they are in their lifecycle, what they consented to, how they engage,
    their loyalty standing and their predicted value. An erased person keeps a row (so
    that nothing is sent to them and counts stay right) with personal data nulled and
    every consent false.
#}

with persons as (
    select distinct person_id from {{ ref('bdg_person_identifiers') }}
),

golden_records as (
    select * from {{ ref('int_persons_golden_records') }}
),

identifiers as (
    select * from {{ ref('bdg_person_identifiers') }}
),

purchases as (
    select * from {{ ref('int_persons_purchases_summarized') }}
),

rfm as (
    select * from {{ ref('int_persons_rfm_scored') }}
),

consents as (
    select * from {{ ref('int_person_consents_resolved') }}
),

engagements as (
    select * from {{ ref('int_person_channel_engagements') }}
    where preference_rank = 1
),

service as (
    select * from {{ ref('int_persons_service_summarized') }}
),

loyalty_cards as (
    select * from {{ ref('dim_loyalty_cards') }}
    where person_id is not null
),

clv as (
    select * from {{ ref('int_persons_clv_predicted') }}
),

erasure_requests as (
    select * from {{ ref('stg_privacy__erasure_requests') }}
),

erased as (
    select
        identifiers.person_id,
        min(erasure_requests.requested_at) as erasure_requested_at
    from erasure_requests
    inner join identifiers
        on identifiers.identifier_type = {{ cdp_subject_identifier_type('erasure_requests.subject_type') }}
        and erasure_requests.subject_value = identifiers.identifier_value
    group by identifiers.person_id
),

consent_flags as (
    select
        person_id,
        {% for channel in cdp_channels() %}
            coalesce(
                max(
                    case
                        when channel = '{{ channel.channel }}' and purpose = 'marketing' then consent_status = 'granted'
                    end
                ),
                false
            )
                as {{ channel.consent_column }},
            coalesce(
                max(
                    case
                        when
                            channel = '{{ channel.channel }}' and purpose = 'transactional'
                            then consent_status = 'granted'
                    end
                ),
                {{ 'true' if var('cdp__consent_transactional_default_granted') else 'false' }})
                as {{ channel.transactional_consent_column }},
        {% endfor %}
        max(recorded_at) as consent_updated_at
    from consents
    group by person_id
),

loyalty as (
    select
        person_id,
        max(loyalty_tier_rank) as loyalty_tier_rank,
        sum(points_balance) as points_balance,
        sum(points_expiring_soon) as points_expiring_soon,
        max(case when is_near_next_tier then 1 else 0 end) = 1 as is_near_next_tier,
        count(*) as loyalty_card_count
    from loyalty_cards
    group by person_id
),

loyalty_named as (
    select
        loyalty.*,
        tiers.tier_name as loyalty_tier
    from loyalty
    inner join {{ ref('loyalty_tiers') }} as tiers on loyalty.loyalty_tier_rank = tiers.tier_rank
),

joined as (
    select
        persons.person_id,
        erased.person_id is not null as is_erased,
        erased.erasure_requested_at,
        golden_records.email,
        golden_records.phone,
        golden_records.first_name,
        golden_records.last_name,
        golden_records.birth_date,
        golden_records.street,
        golden_records.city,
        golden_records.postal_code,
        golden_records.country_code,
        golden_records.first_seen_at,
        golden_records.is_exact_links_only,
        coalesce(purchases.purchase_count, 0) as purchase_count,
        coalesce(purchases.lifetime_value, 0) as lifetime_value,
        case when purchases.purchase_count > 0 then purchases.lifetime_value / purchases.purchase_count end
            as average_order_value,
        purchases.first_purchase_at,
        purchases.last_purchase_at,
        coalesce(purchases.purchase_count, 0) >= 2 as is_repeat_purchaser,
        coalesce(purchases.web_purchase_count, 0) as web_purchase_count,
        coalesce(purchases.app_purchase_count, 0) as app_purchase_count,
        coalesce(purchases.store_purchase_count, 0) as store_purchase_count,
        rfm.recency_score,
        rfm.frequency_score,
        rfm.monetary_score,
        rfm.rfm_score,
        rfm.rfm_segment,
        {{ cdp_lifecycle_stage('purchases.first_purchase_at', 'purchases.last_purchase_at',
                               'purchases.previous_purchase_at', cdp_as_of()) }} as lifecycle_stage,
        {% for channel in cdp_channels() %}
            coalesce(consent_flags.{{ channel.consent_column }}, false) as {{ channel.consent_column }},
            coalesce(
                consent_flags.{{ channel.transactional_consent_column }},
                {{ 'true' if var('cdp__consent_transactional_default_granted') else 'false' }})
                as {{ channel.transactional_consent_column }},
        {% endfor %}
        consent_flags.consent_updated_at,
        engagements.channel as preferred_channel,
        coalesce(service.open_support_tickets, 0) as open_support_tickets,
        service.nps_score,
        service.nps_class,
        loyalty_named.loyalty_tier,
        loyalty_named.points_balance,
        loyalty_named.points_expiring_soon,
        coalesce(loyalty_named.is_near_next_tier, false) as is_near_next_tier,
        coalesce(loyalty_named.points_expiring_soon, 0) > 0 as has_points_expiring_soon,
        coalesce(loyalty_named.loyalty_card_count, 0) > 0 as is_loyalty_member,
        clv.expected_purchases_12m,
        clv.predicted_clv_12m,
        clv.probability_alive,
        clv.churn_probability
    from persons
    left join golden_records on persons.person_id = golden_records.person_id
    left join erased on persons.person_id = erased.person_id
    left join purchases on persons.person_id = purchases.person_id
    left join rfm on persons.person_id = rfm.person_id
    left join consent_flags on persons.person_id = consent_flags.person_id
    left join engagements on persons.person_id = engagements.person_id
    left join service on persons.person_id = service.person_id
    left join loyalty_named on persons.person_id = loyalty_named.person_id
    left join clv on persons.person_id = clv.person_id
),

erasure_applied as (
    select
        person_id,
        is_erased,
        erasure_requested_at,
        {% for column in ['email', 'phone', 'first_name', 'last_name', 'birth_date', 'street', 'city', 'postal_code'] %}
            case when is_erased then null else {{ column }} end as {{ column }},
        {% endfor %}
        country_code,
        first_seen_at,
        is_exact_links_only,
        purchase_count,
        lifetime_value,
        average_order_value,
        first_purchase_at,
        last_purchase_at,
        is_repeat_purchaser,
        web_purchase_count,
        app_purchase_count,
        store_purchase_count,
        recency_score,
        frequency_score,
        monetary_score,
        rfm_score,
        rfm_segment,
        lifecycle_stage,
        {% for channel in cdp_channels() %}
            {{ channel.consent_column }} and not is_erased as {{ channel.consent_column }},
            {{ channel.transactional_consent_column }} and not is_erased as {{ channel.transactional_consent_column }},
        {% endfor %}
        consent_updated_at,
        preferred_channel,
        open_support_tickets,
        nps_score,
        nps_class,
        loyalty_tier,
        points_balance,
        points_expiring_soon,
        is_near_next_tier,
        has_points_expiring_soon,
        is_loyalty_member,
        expected_purchases_12m,
        predicted_clv_12m,
        probability_alive,
        churn_probability
    from joined
)

select * from erasure_applied
