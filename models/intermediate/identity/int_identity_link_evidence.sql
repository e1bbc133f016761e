{#- Pairs of identifiers in one source row that a link rule names, summarised per source. -#}
with observations as (
    select * from {{ ref('int_identity_observations') }}
),

rules as (
    select * from {{ ref('identity_link_rules') }}
),

pairs as (
    select
        a.node_key as node_key_a,
        a.identifier_type as identifier_type_a,
        a.identifier_value as identifier_value_a,
        b.node_key as node_key_b,
        b.identifier_type as identifier_type_b,
        b.identifier_value as identifier_value_b,
        r.link_priority,
        a.source_model,
        a.source_key,
        a.source_trust,
        a.observed_at
    from observations as a
    inner join observations as b
        on a.source_model = b.source_model
        and a.source_key = b.source_key
    inner join rules as r
        on a.identifier_type = r.identifier_type_a
        and b.identifier_type = r.identifier_type_b
)

select
    {{ cdp_surrogate_key(['node_key_a', 'node_key_b', 'source_model']) }} as link_evidence_id,
    {{ cdp_surrogate_key(['node_key_a', 'node_key_b']) }} as link_id,
    node_key_a,
    identifier_type_a,
    identifier_value_a,
    node_key_b,
    identifier_type_b,
    identifier_value_b,
    link_priority,
    source_model,
    max(source_trust) as source_trust,
    count(*) as row_count,
    min(source_key) as example_source_key,
    min(observed_at) as first_seen_at,
    max(observed_at) as last_seen_at
from pairs
group by
    node_key_a, identifier_type_a, identifier_value_a,
    node_key_b, identifier_type_b, identifier_value_b,
    link_priority, source_model
