{#
    Carts abandoned now: per person (web and app events resolved through the identity
    graph, so a cart filled on the phone and the laptop is one cart), the products put
    in a cart and not taken out since the person's last completed checkout, whose last
    cart activity (an add, a removal, a checkout started) lies between
    cdp__journey_cart_abandoned_min_hours and _max_hours before cdp__as_of. A cart is
    its person and product set: the same products abandoned again are the same cart.
    Purchases of the products (online or in a store) are the cart journey's goal, not a
    filter here, so that the plan can say why nothing goes out.
#}

with cart_events as (
    select
        person_id,
        event_id,
        -- the app reports a completed checkout as a purchase
        case when site = 'app' and event_type = 'purchase' then 'order_completed' else event_type end as event_type,
        product_id,
        occurred_at
    from {{ ref('int_person_site_events') }}
    where
        (
            (site = 'web' and event_type in ('add_to_cart', 'remove_from_cart', 'checkout_started', 'order_completed'))
            or (site = 'app' and event_type in ('add_to_cart', 'purchase'))
        )
        and occurred_at > {{ dbt.dateadd('hour', -var('cdp__journey_cart_abandoned_max_hours'), cdp_as_of()) }}
),

-- A completed checkout empties the cart: only what happened after it is still in one.
checkouts as (
    select
        person_id,
        max(occurred_at) as checked_out_at
    from cart_events
    where event_type = 'order_completed'
    group by person_id
),

open_cart_events as (
    select cart_events.*
    from cart_events
    left join checkouts on cart_events.person_id = checkouts.person_id
    where
        cart_events.event_type <> 'order_completed'
        and (checkouts.checked_out_at is null or cart_events.occurred_at > checkouts.checked_out_at)
),

product_events_ranked as (
    select
        person_id,
        product_id,
        event_type,
        occurred_at,
        row_number() over (
            partition by person_id, product_id
            order by occurred_at desc, case when event_type = 'remove_from_cart' then 0 else 1 end, event_id desc
        ) as recency_rank
    from open_cart_events
    where product_id is not null and event_type in ('add_to_cart', 'remove_from_cart')
),

cart_products as (
    select
        person_id,
        product_id,
        occurred_at as added_at
    from product_events_ranked
    where recency_rank = 1 and event_type = 'add_to_cart'
),

cart_activity as (
    select
        person_id,
        max(occurred_at) as last_activity_at
    from open_cart_events
    group by person_id
),

carts as (
    select
        cart_products.person_id,
        {{ cdp_sorted_string_agg('cart_products.product_id', ',') }} as product_ids,
        count(*) as product_count,
        min(cart_products.added_at) as first_added_at,
        max(cart_activity.last_activity_at) as abandoned_at
    from cart_products
    inner join cart_activity on cart_products.person_id = cart_activity.person_id
    group by cart_products.person_id
),

final as (
    select
        {{ cdp_surrogate_key(['person_id', 'product_ids']) }} as cart_key,
        person_id,
        product_ids,
        product_count,
        first_added_at,
        abandoned_at
    from carts
    where abandoned_at <= {{ dbt.dateadd('hour', -var('cdp__journey_cart_abandoned_min_hours'), cdp_as_of()) }}
)

select * from final
