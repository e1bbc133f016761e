{#-
    Customers in the RFM segment `champions`. RFM scores keep no history, so the latest
    purchase (which earned the segment last) is the qualification time offered; the
    membership log keeps the time of the first build that saw the person qualify as
    long as they stay.
-#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

champions as (
    select
        person_id,
        last_purchase_at as entered_at
    from persons
    where rfm_segment = 'champions'
)

select * from champions
