{#
    Co-purchase recommendations per person (macros/activation/cdp_recommendations.sql):
    products often bought by the persons who bought what this person bought, on any
    channel, stores included, never a product the person already bought. The same macro
    runs the offline evaluation (make bench-recommendations).
#}

with purchased_products as (
    select * from {{ ref('int_journey_purchased_products') }}
),

recommendations as (
    {{ cdp_co_purchase_recommendations('purchased_products', cdp_as_of(), var('cdp__recommendations_per_person')) }}
),

final as (
    select
        person_id,
        recommendation_rank,
        product_id,
        score
    from recommendations
)

select * from final
