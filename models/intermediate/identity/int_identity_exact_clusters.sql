{#- Each admitted identifier with the cluster that exact (deterministic) links make of it. -#}
with identifiers as (
    select * from {{ ref('int_identity_identifiers') }}
    where exclusion_reason is null
),

components as (
    select * from {{ ref('int_identity_components') }}
),

conflict_sets as (
    select * from {{ ref('int_identity_conflict_sets') }}
)

select
    i.node_key,
    i.identifier_type,
    i.identifier_value,
    coalesce(s.set_key, c.component_key, i.node_key) as exact_cluster_key
from identifiers as i
left join components as c on i.node_key = c.node_key
left join conflict_sets as s on i.node_key = s.node_key
