-- Every (recency, frequency) score pair from 1 to 5 must map to a segment, or some
-- customers would have none. Returns the pairs without one.
with scores as (
    select 1 as score
    union all
    select 2
    union all
    select 3
    union all
    select 4
    union all
    select 5
)

select
    recency.score as recency_score,
    frequency.score as frequency_score
from scores as recency
cross join scores as frequency
where not exists (
    select 1 from {{ ref('rfm_segments') }} as segments
    where
        recency.score between segments.min_recency_score and segments.max_recency_score
        and frequency.score between segments.min_frequency_score and segments.max_frequency_score
)
