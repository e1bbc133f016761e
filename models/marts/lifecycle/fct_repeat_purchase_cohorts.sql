{#
    Repeat purchase rate by the month of a person's first purchase: of the persons who
    first bought that month, how many have bought again by cdp__as_of.
#}

with purchasers as (
    select * from {{ ref('int_persons_purchases_summarized') }}
    where purchase_count > 0
),

cohorts as (
    select
        cast({{ dbt.date_trunc('month', 'first_purchase_at') }} as date) as cohort_month,
        count(*) as customers,
        sum(case when purchase_count >= 2 then 1 else 0 end) as repeat_customers
    from purchasers
    group by cast({{ dbt.date_trunc('month', 'first_purchase_at') }} as date)
)

select
    cohort_month,
    customers,
    repeat_customers,
    cast(repeat_customers as {{ cdp_type_double() }}) / customers as repeat_purchase_rate
from cohorts
