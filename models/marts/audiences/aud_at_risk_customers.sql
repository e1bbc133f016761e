{#-
    Customers in lifecycle stage `at_risk`: they entered when their last purchase became
    cdp__lifecycle_active_days old.
-#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

at_risk_customers as (
    select person_id, {{ dbt.dateadd('day', var('cdp__lifecycle_active_days'), 'last_purchase_at') }} as entered_at
    from persons
    where lifecycle_stage = 'at_risk'
)

select * from at_risk_customers
