{#- Every time two persons became one: rebuilt from the append-only identity log, so it survives full refreshes. -#}
with merged as (
    select * from {{ ref('int_identity_person_assignments') }}
    where change = 'merged'
),

person_merges as (
    select
        previous_person_id as loser_person_id,
        person_id as winner_person_id,
        min(assigned_at) as merged_at,
        min(run_number) as merge_run_number,
        min(merge_link_node_key_a) as link_node_key_a,
        min(merge_link_node_key_b) as link_node_key_b,
        min(merge_link_kind) as link_kind,
        max(merge_link_match_probability) as link_match_probability,
        count(*) as identifiers_moved
    from merged
    group by previous_person_id, person_id
)

select
    loser_person_id,
    winner_person_id,
    merged_at,
    merge_run_number,
    {{ cdp_identity_node_part('link_node_key_a', 'type') }} as link_identifier_type_a,
    {{ cdp_identity_node_part('link_node_key_a', 'value') }} as link_identifier_value_a,
    {{ cdp_identity_node_part('link_node_key_b', 'type') }} as link_identifier_type_b,
    {{ cdp_identity_node_part('link_node_key_b', 'value') }} as link_identifier_value_b,
    link_kind,
    link_match_probability,
    identifiers_moved
from person_merges
