{{ config(materialized='cdp_capped_merge', limits=var('cdp__identity_max_per_person')) }}
{#-
    Components that hold more identifiers of some type than one person may are split
    again by adding their links one by one in rank order (macros/identity/cdp_capped_merge.sql).
    Components within the limits are final as they are and never enter this model.
-#}
with components as (
    select * from {{ ref('int_identity_components') }}
),

identifiers as (
    select * from {{ ref('int_identity_identifiers') }}
),

links as (
    select * from {{ ref('int_identity_links') }}
),

component_types as (
    select
        components.component_key,
        identifiers.identifier_type,
        count(*) as identifier_count
    from components
    inner join identifiers on components.node_key = identifiers.node_key
    group by components.component_key, identifiers.identifier_type
),

over_limit as (
    select distinct component_key
    from component_types
    where identifier_count > {{ cdp_limit_of('identifier_type', var('cdp__identity_max_per_person')) }}
)

select
    components.component_key as group_key,
    row_number() over (partition by components.component_key order by links.link_rank) as link_order,
    links.node_key_a,
    links.identifier_type_a as node_type_a,
    links.node_key_b,
    links.identifier_type_b as node_type_b
from links
inner join components on links.node_key_a = components.node_key
inner join over_limit on components.component_key = over_limit.component_key
