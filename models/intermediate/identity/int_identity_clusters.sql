{#-
    Each admitted identifier with its final cluster: its exact cluster, joined to the group
    its accepted probabilistic matches make.
-#}
with exact_clusters as (
    select * from {{ ref('int_identity_exact_clusters') }}
),

joined as (
    select
        node_key as exact_cluster_key,
        component_key as cluster_key
    from {{ ref('int_identity_probabilistic_groups') }}
)

select
    exact_clusters.node_key,
    exact_clusters.identifier_type,
    exact_clusters.identifier_value,
    exact_clusters.exact_cluster_key,
    coalesce(joined.cluster_key, exact_clusters.exact_cluster_key) as cluster_key,
    joined.cluster_key is null as is_exact_links_only
from exact_clusters
left join joined on exact_clusters.exact_cluster_key = joined.exact_cluster_key
