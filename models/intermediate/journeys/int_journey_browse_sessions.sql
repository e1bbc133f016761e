{#
    Browsing abandoned now: per person, the products viewed (web or app) in the last
    cdp__journey_browse_abandoned_max_hours that the person did not put in a cart in that
    time, when the last such view is at least cdp__journey_browse_abandoned_min_hours
    old. The session is its person and product set, like a cart.
#}

with product_events as (
    select * from {{ ref('int_person_site_events') }}
    where
        event_type in ('product_view', 'add_to_cart')
        and product_id is not null
        and occurred_at > {{ dbt.dateadd('hour', -var('cdp__journey_browse_abandoned_max_hours'), cdp_as_of()) }}
),

products_per_person as (
    select
        person_id,
        product_id,
        count(case when event_type = 'product_view' then 1 end) as view_count,
        max(case when event_type = 'product_view' then occurred_at end) as last_viewed_at,
        count(case when event_type = 'add_to_cart' then 1 end) as cart_add_count
    from product_events
    group by person_id, product_id
),

sessions as (
    select
        person_id,
        {{ cdp_sorted_string_agg('product_id', ',') }} as product_ids,
        count(*) as product_count,
        sum(view_count) as view_count,
        max(last_viewed_at) as last_viewed_at
    from products_per_person
    where view_count > 0 and cart_add_count = 0
    group by person_id
),

final as (
    select
        {{ cdp_surrogate_key(['person_id', 'product_ids']) }} as browse_key,
        person_id,
        product_ids,
        product_count,
        view_count,
        last_viewed_at
    from sessions
    where last_viewed_at <= {{ dbt.dateadd('hour', -var('cdp__journey_browse_abandoned_min_hours'), cdp_as_of()) }}
)

select * from final
