{#-
    Loyalty members close to their next tier (dim_persons.is_near_next_tier, see
    cdp__loyalty_near_next_tier_share). The profile does not say since when, so the
    membership log records the first build that saw it.
-#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

near_next_tier as (
    select person_id, cast(null as {{ dbt.type_timestamp() }}) as entered_at
    from persons
    where is_near_next_tier
)

select * from near_next_tier
