{#
    What the BG/NBD and Gamma-Gamma fit (cdp/clv) reads, one row per person with a
    counted purchase up to cdp__as_of. As in the published CDNOW fits, purchases on the
    same calendar day are one transaction, the first day's purchase is not a repeat
    purchase, and times are whole days (the fit divides by cdp__clv_time_unit_days).
    A purchase refunded in full is not a purchase; a zero-value one (a free item) is.
#}

with purchases as (
    select * from {{ ref('fct_purchases') }}
    where
        person_id is not null
        and not is_fully_returned
        and purchased_at <= {{ cdp_as_of() }}
),

purchase_days as (
    select
        person_id,
        cast(purchased_at as date) as purchase_date,
        sum(net_amount) as day_amount
    from purchases
    group by person_id, cast(purchased_at as date)
),

ordered as (
    select
        *,
        min(purchase_date) over (partition by person_id) as first_purchase_date
    from purchase_days
),

summarized as (
    select
        person_id,
        count(*) - 1 as repeat_purchases,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        {{ dbt.datediff('min(purchase_date)', 'max(purchase_date)', 'day') }}
            as days_first_to_last_purchase,
        {{ dbt.datediff('min(purchase_date)', 'cast(' ~ cdp_as_of() ~ ' as date)', 'day') }}
            as days_first_purchase_to_as_of,
        avg(case when purchase_date > first_purchase_date then day_amount end) as repeat_purchase_average_spend
    from ordered
    group by person_id
)

select * from summarized
