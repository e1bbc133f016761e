{#- The current person of every admitted identifier: the latest assignment in the identity log. -#}
with assignments as (
    select * from {{ ref('int_identity_person_assignments') }}
),

clusters as (
    select * from {{ ref('int_identity_clusters') }}
),

identifiers as (
    select * from {{ ref('int_identity_identifiers') }}
),

latest as (
    {{ cdp_current_assignments('assignments') }}
)

select
    l.person_id,
    c.identifier_type,
    c.identifier_value,
    c.is_exact_links_only,
    i.first_seen_at,
    i.last_seen_at,
    i.observation_count
from clusters as c
inner join latest as l on c.node_key = l.node_key
inner join identifiers as i on c.node_key = i.node_key
