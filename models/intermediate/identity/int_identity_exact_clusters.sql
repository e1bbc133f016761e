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
    identifiers.node_key,
    identifiers.identifier_type,
    identifiers.identifier_value,
    coalesce(conflict_sets.set_key, components.component_key, identifiers.node_key) as exact_cluster_key
from identifiers
left join components on identifiers.node_key = components.node_key
left join conflict_sets on identifiers.node_key = conflict_sets.node_key
