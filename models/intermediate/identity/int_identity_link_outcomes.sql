{#- Every deterministic link with what became of it: accepted, or dropped because the person would break a limit. -#}
{%- set limits = var('cdp__identity_max_per_person') -%}
with links as (
    select * from {{ ref('int_identity_links') }}
),

conflict_sets as (
    select * from {{ ref('int_identity_conflict_sets') }}
),

set_sizes as (
    select set_key, node_type, count(*) as node_count
    from conflict_sets
    group by set_key, node_type
),

judged as (
    select
        l.*,
        a.group_key as conflict_component_key,
        a.set_key as set_key_a,
        b.set_key as set_key_b,
        row_number() over (partition by a.group_key order by l.link_rank) as conflict_link_order
    from links as l
    left join conflict_sets as a on l.node_key_a = a.node_key
    left join conflict_sets as b on l.node_key_b = b.node_key
),

-- which limits the two sides would break together (sets only grow, so what they break
-- at the end they broke when the link was considered)
broken_limits as (
    select
        j.link_id,
        min({{ dbt.concat(["za.node_type", "' ('", dbt.cast("za.node_count + zb.node_count", dbt.type_string()), "' > '", dbt.cast(cdp_limit_of('za.node_type', limits), dbt.type_string()), "')'"]) }}) as broken_limit
    from judged as j
    inner join set_sizes as za on j.set_key_a = za.set_key
    inner join set_sizes as zb on j.set_key_b = zb.set_key and za.node_type = zb.node_type
    where j.set_key_a <> j.set_key_b
        and za.node_count + zb.node_count > {{ cdp_limit_of('za.node_type', limits) }}
    group by j.link_id
)

select
    j.link_id,
    j.node_key_a,
    j.identifier_type_a,
    j.identifier_value_a,
    j.node_key_b,
    j.identifier_type_b,
    j.identifier_value_b,
    j.link_priority,
    j.source_trust,
    j.row_count,
    j.first_seen_at,
    j.last_seen_at,
    j.link_rank,
    j.conflict_component_key,
    j.conflict_component_key is null or j.set_key_a = j.set_key_b as is_accepted,
    case
        when j.conflict_component_key is null or j.set_key_a = j.set_key_b then null
        when j.conflict_link_order > {{ var('cdp__identity_max_conflict_steps') | int }} then 'conflict_steps_exhausted'
        else 'would_exceed_limit'
    end as drop_reason,
    case
        when j.conflict_component_key is null or j.set_key_a = j.set_key_b then null
        when j.conflict_link_order > {{ var('cdp__identity_max_conflict_steps') | int }}
            then 'ranked beyond var cdp__identity_max_conflict_steps in its component'
        else {{ dbt.concat(["'person would hold '", "b.broken_limit", "'; a higher-ranked link won'"]) }}
    end as drop_detail
from judged as j
left join broken_limits as b on j.link_id = b.link_id
