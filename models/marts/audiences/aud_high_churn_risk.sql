{#-
    Customers the CLV fit gives a churn probability of at least
    cdp__audience_high_churn_probability. The fit keeps no history, so the membership log
    records the first build that saw it. Empty while the fit is not_fitted (too little
    purchase history, as on the demo data).
-#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

high_churn_risk as (
    select person_id, cast(null as {{ dbt.type_timestamp() }}) as entered_at
    from persons
    where churn_probability >= {{ var('cdp__audience_high_churn_probability') }}
)

select * from high_churn_risk
