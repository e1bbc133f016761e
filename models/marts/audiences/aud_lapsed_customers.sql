{#-
    Customers in lifecycle stage `lapsed`: they entered when their last purchase became
    cdp__lifecycle_lapsed_days old.
-#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

lapsed_customers as (
    select person_id, {{ dbt.dateadd('day', var('cdp__lifecycle_lapsed_days'), 'last_purchase_at') }} as entered_at
    from persons
    where lifecycle_stage = 'lapsed'
)

select * from lapsed_customers
