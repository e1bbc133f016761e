{#- Customers whose last purchase is at most cdp__audience_recent_purchase_days old. -#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

recent_purchasers as (
    select
        person_id,
        last_purchase_at as entered_at
    from persons
    where last_purchase_at > {{ dbt.dateadd('day', -var('cdp__audience_recent_purchase_days'), cdp_as_of()) }}
)

select * from recent_purchasers
