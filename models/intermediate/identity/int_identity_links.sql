{#- One row per linked pair of admitted identifiers, ranked: the rank decides which link loses when a limit would break. -#}
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
    group by link_id, node_key_a, identifier_type_a, identifier_value_a, node_key_b, identifier_type_b, identifier_value_b
)

select
    l.*,
    row_number() over (
        order by l.link_priority, l.source_trust desc, l.first_seen_at, l.link_id
    ) as link_rank
from links as l
inner join identifiers as a on l.node_key_a = a.node_key and a.exclusion_reason is null
inner join identifiers as b on l.node_key_b = b.node_key and b.exclusion_reason is null
