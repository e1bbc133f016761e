{#- Customers in lifecycle stage `new`: they entered with their first purchase. -#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

new_customers as (
    select
        person_id,
        first_purchase_at as entered_at
    from persons
    where lifecycle_stage = 'new'
)

select * from new_customers
