{#- Every deterministic link with what became of it: accepted, or dropped because the person would break a limit. -#}
{%- set limits = var('cdp__identity_max_per_person') -%}
with links as (
    select * from {{ ref('int_identity_links') }}
),

conflict_sets as (
    select * from {{ ref('int_identity_conflict_sets') }}
),

set_sizes as (
    select
        set_key,
        node_type,
        count(*) as node_count
    from conflict_sets
    group by set_key, node_type
),

judged as (
    select
        links.*,
        conflict_sets_a.group_key as conflict_component_key,
        conflict_sets_a.set_key as set_key_a,
        conflict_sets_b.set_key as set_key_b,
        row_number() over (partition by conflict_sets_a.group_key order by links.link_rank) as conflict_link_order
    from links
    left join conflict_sets as conflict_sets_a on links.node_key_a = conflict_sets_a.node_key
    left join conflict_sets as conflict_sets_b on links.node_key_b = conflict_sets_b.node_key
),

-- which limits the two sides would break together (sets only grow, so what they break
-- at the end they broke when the link was considered)
broken_limits as (
    select
        judged.link_id,
        min(
            {{ dbt.concat([
                "set_sizes_a.node_type", "' ('",
                dbt.cast("set_sizes_a.node_count + set_sizes_b.node_count", dbt.type_string()), "' > '",
                dbt.cast(cdp_limit_of('set_sizes_a.node_type', limits), dbt.type_string()), "')'",
            ]) }}
        )
            as broken_limit
    from judged
    inner join set_sizes as set_sizes_a on judged.set_key_a = set_sizes_a.set_key
    inner join set_sizes as set_sizes_b
        on judged.set_key_b = set_sizes_b.set_key and set_sizes_a.node_type = set_sizes_b.node_type
    where
        judged.set_key_a <> judged.set_key_b
        and set_sizes_a.node_count + set_sizes_b.node_count > {{ cdp_limit_of('set_sizes_a.node_type', limits) }}
    group by judged.link_id
)

select
    judged.link_id,
    judged.node_key_a,
    judged.identifier_type_a,
    judged.identifier_value_a,
    judged.node_key_b,
    judged.identifier_type_b,
    judged.identifier_value_b,
    judged.link_priority,
    judged.source_trust,
    judged.row_count,
    judged.first_seen_at,
    judged.last_seen_at,
    judged.link_rank,
    judged.conflict_component_key,
    judged.conflict_component_key is null or judged.set_key_a = judged.set_key_b as is_accepted,
    case
        when judged.conflict_component_key is null or judged.set_key_a = judged.set_key_b then null
        when judged.conflict_link_order > {{ var('cdp__identity_max_conflict_steps') | int }}
            then 'conflict_steps_exhausted'
        else 'would_exceed_limit'
    end as drop_reason,
    case
        when judged.conflict_component_key is null or judged.set_key_a = judged.set_key_b then null
        when judged.conflict_link_order > {{ var('cdp__identity_max_conflict_steps') | int }}
            then 'ranked beyond var cdp__identity_max_conflict_steps in its component'
        else {{ dbt.concat(["'person would hold '", "broken_limits.broken_limit", "'; a higher-ranked link won'"]) }}
    end as drop_detail
from judged
left join broken_limits on judged.link_id = broken_limits.link_id
