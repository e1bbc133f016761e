{{ config(materialized='cdp_connected_components') }}
{#- Exact clusters joined by accepted probabilistic matches: connected components of those matches. -#}
select
    exact_cluster_key_a as node_key_a,
    exact_cluster_key_b as node_key_b
from {{ ref('int_identity_probabilistic_links') }}
where is_accepted
