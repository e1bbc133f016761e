{#- Pairs of identifiers in one source row that a link rule names, summarised per source. -#}
with observations as (
    select * from {{ ref('int_identity_observations') }}
),

rules as (
    select * from {{ ref('identity_link_rules') }}
),

pairs as (
    select
        observations_a.node_key as node_key_a,
        observations_a.identifier_type as identifier_type_a,
        observations_a.identifier_value as identifier_value_a,
        observations_b.node_key as node_key_b,
        observations_b.identifier_type as identifier_type_b,
        observations_b.identifier_value as identifier_value_b,
        rules.link_priority,
        observations_a.source_model,
        observations_a.source_key,
        observations_a.source_trust,
        observations_a.observed_at
    from observations as observations_a
    inner join observations as observations_b
        on observations_a.source_model = observations_b.source_model
        and observations_a.source_key = observations_b.source_key
    inner join rules
        on observations_a.identifier_type = rules.identifier_type_a
        and observations_b.identifier_type = rules.identifier_type_b
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
