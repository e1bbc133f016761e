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
    latest.person_id,
    clusters.identifier_type,
    clusters.identifier_value,
    clusters.is_exact_links_only,
    identifiers.first_seen_at,
    identifiers.last_seen_at,
    identifiers.observation_count
from clusters
inner join latest on clusters.node_key = latest.node_key
inner join identifiers on clusters.node_key = identifiers.node_key
