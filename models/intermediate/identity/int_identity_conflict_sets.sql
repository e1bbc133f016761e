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
    select c.component_key, i.identifier_type, count(*) as identifier_count
    from components as c
    inner join identifiers as i on c.node_key = i.node_key
    group by c.component_key, i.identifier_type
),

over_limit as (
    select distinct component_key
    from component_types
    where identifier_count > {{ cdp_limit_of('identifier_type', var('cdp__identity_max_per_person')) }}
)

select
    c.component_key as group_key,
    row_number() over (partition by c.component_key order by l.link_rank) as link_order,
    l.node_key_a,
    l.identifier_type_a as node_type_a,
    l.node_key_b,
    l.identifier_type_b as node_type_b
from links as l
inner join components as c on l.node_key_a = c.node_key
inner join over_limit as o on c.component_key = o.component_key
