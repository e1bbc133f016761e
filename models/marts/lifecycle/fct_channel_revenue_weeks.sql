{#
    Net revenue and purchases per channel and week (weeks start on Monday), for the last
    cdp__lifecycle_report_weeks weeks. Includes purchases no person could be tied to.
#}

with purchases as (
    select * from {{ ref('fct_purchases') }}
),

report_weeks as (
    {{ cdp_report_weeks(var('cdp__lifecycle_report_weeks')) }}
),

weekly as (
    select
        report_weeks.week_start,
        purchases.channel,
        count(*) as purchases,
        sum(purchases.gross_amount) as gross_revenue,
        sum(purchases.returned_amount) as returned_revenue,
        sum(purchases.net_amount) as net_revenue,
        count(distinct purchases.person_id) as persons
    from purchases
    inner join report_weeks
        on purchases.purchased_at >= report_weeks.week_start
        and purchases.purchased_at < report_weeks.next_week_start
    group by report_weeks.week_start, purchases.channel
)

select
    {{ cdp_surrogate_key(['week_start', 'channel']) }} as week_channel_key,
    *
from weekly
