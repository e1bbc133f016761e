{#
    RFM scores 1 to 5 among persons with a purchase: recency by last purchase, frequency
    by purchase count, monetary by lifetime value. Scores come from the percent rank,
    so ties share a score (everybody with one purchase has frequency 1). The named
    segment is the first row of seeds/rfm_segments.csv (by priority) whose recency and
    frequency ranges hold the scores.
#}

{%- set scores = [
    ('recency_score', 'last_purchase_at'),
    ('frequency_score', 'purchase_count'),
    ('monetary_score', 'lifetime_value'),
] %}

with purchasers as (
    select * from {{ ref('int_persons_purchases_summarized') }}
    where purchase_count > 0
),

segments as (
    select * from {{ ref('rfm_segments') }}
),

scored as (
    select
        person_id,
    {%- for score, column in scores %}
        cast(least(5, 1 + floor(5 * percent_rank() over (order by {{ column }}))) as {{ dbt.type_int() }})
            as {{ score }}
        {{- ',' if not loop.last }}
    {%- endfor %}
    from purchasers
),

matched as (
    select
        scored.*,
        segments.rfm_segment,
        row_number() over (partition by scored.person_id order by segments.priority) as match_rank
    from scored
    left join segments
        on scored.recency_score between segments.min_recency_score and segments.max_recency_score
        and scored.frequency_score between segments.min_frequency_score and segments.max_frequency_score
)

select
    person_id,
    recency_score,
    frequency_score,
    monetary_score,
    {{ dbt.concat([
        'cast(recency_score as ' ~ dbt.type_string() ~ ')',
        'cast(frequency_score as ' ~ dbt.type_string() ~ ')',
        'cast(monetary_score as ' ~ dbt.type_string() ~ ')',
    ]) }} as rfm_score,
    rfm_segment
from matched
where match_rank = 1
