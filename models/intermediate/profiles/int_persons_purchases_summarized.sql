{#
    Purchase history per person up to cdp__as_of: counts, net value, first and last
    purchase, and the purchase before the last (to tell a won-back customer).
#}

with purchases as (
    select * from {{ ref('fct_purchases') }}
    where
        person_id is not null
        and purchased_at <= {{ cdp_as_of() }}
),

counted as (
    select
        *,
        row_number() over (partition by person_id order by purchased_at desc, purchase_id desc) as recency_rank
    from purchases
    where not is_fully_returned
),

summarized as (
    select
        person_id,
        count(*) as purchase_count,
        sum(net_amount) as lifetime_value,
        min(purchased_at) as first_purchase_at,
        max(purchased_at) as last_purchase_at,
        max(case when recency_rank = 2 then purchased_at end) as previous_purchase_at,
        sum(case when channel = 'web' then 1 else 0 end) as web_purchase_count,
        sum(case when channel = 'app' then 1 else 0 end) as app_purchase_count,
        sum(case when channel = 'store' then 1 else 0 end) as store_purchase_count
    from counted
    group by person_id
),

value_per_person as (
    -- Fully refunded purchases add nothing to the count but keep the person here.
    select
        person_id,
        sum(net_amount) as lifetime_value
    from purchases
    group by person_id
),

final as (
    select
        value_per_person.person_id,
        coalesce(summarized.purchase_count, 0) as purchase_count,
        value_per_person.lifetime_value,
        summarized.first_purchase_at,
        summarized.last_purchase_at,
        summarized.previous_purchase_at,
        coalesce(summarized.web_purchase_count, 0) as web_purchase_count,
        coalesce(summarized.app_purchase_count, 0) as app_purchase_count,
        coalesce(summarized.store_purchase_count, 0) as store_purchase_count
    from value_per_person
    left join summarized on value_per_person.person_id = summarized.person_id
)

select * from final
