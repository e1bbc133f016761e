{#-
    One row per linked pair of admitted identifiers, ranked: the rank decides which link
    loses when a limit would break.
-#}
with evidence as (
    select * from {{ ref('int_identity_link_evidence') }}
),

identifiers as (
    select * from {{ ref('int_identity_identifiers') }}
),

links as (
    select
        link_id,
        node_key_a,
        identifier_type_a,
        identifier_value_a,
        node_key_b,
        identifier_type_b,
        identifier_value_b,
        min(link_priority) as link_priority,
        max(source_trust) as source_trust,
        sum(row_count) as row_count,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at
    from evidence
    group by
        link_id, node_key_a, identifier_type_a, identifier_value_a, node_key_b, identifier_type_b, identifier_value_b
)

select
    links.*,
    row_number() over (
        order by links.link_priority asc, links.source_trust desc, links.first_seen_at asc, links.link_id asc
    ) as link_rank
from links
inner join identifiers as identifiers_a
    on links.node_key_a = identifiers_a.node_key and identifiers_a.exclusion_reason is null
inner join identifiers as identifiers_b
    on links.node_key_b = identifiers_b.node_key and identifiers_b.exclusion_reason is null
