{#- Each admitted identifier with its final cluster: its exact cluster, joined to its mutual best probabilistic match. -#}
with exact_clusters as (
    select * from {{ ref('int_identity_exact_clusters') }}
),

accepted as (
    select exact_cluster_key_a, exact_cluster_key_b
    from {{ ref('int_identity_probabilistic_links') }}
    where is_accepted
),

joined as (
    select exact_cluster_key_a as exact_cluster_key, exact_cluster_key_a as cluster_key from accepted
    union all
    select exact_cluster_key_b as exact_cluster_key, exact_cluster_key_a as cluster_key from accepted
)

select
    e.node_key,
    e.identifier_type,
    e.identifier_value,
    e.exact_cluster_key,
    coalesce(j.cluster_key, e.exact_cluster_key) as cluster_key,
    j.cluster_key is null as is_exact_links_only
from exact_clusters as e
left join joined as j on e.exact_cluster_key = j.exact_cluster_key
