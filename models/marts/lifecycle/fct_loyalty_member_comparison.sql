{#
    Loyalty members against other customers: customers, purchases per customer, average
    order value, revenue per customer and repeat rate, over every purchase up to
    cdp__as_of. Erased persons are left out of neither group: this is aggregate.
#}

with persons as (
    select * from {{ ref('dim_persons') }}
    where purchase_count > 0
),

grouped as (
    select
        case when is_loyalty_member then 'loyalty_member' else 'non_member' end as customer_group,
        count(*) as customers,
        sum(purchase_count) as purchases,
        sum(lifetime_value) as net_revenue,
        sum(case when is_repeat_purchaser then 1 else 0 end) as repeat_customers
    from persons
    group by case when is_loyalty_member then 'loyalty_member' else 'non_member' end
)

select
    customer_group,
    customers,
    purchases,
    net_revenue,
    net_revenue / purchases as average_order_value,
    cast(purchases as {{ cdp_type_double() }}) / customers as purchases_per_customer,
    net_revenue / customers as revenue_per_customer,
    cast(repeat_customers as {{ cdp_type_double() }}) / customers as repeat_purchase_rate
from grouped
