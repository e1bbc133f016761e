{#- Probabilistic matches between exact clusters above the threshold, and which of them join clusters into a person.
    A match is accepted when the two clusters are each other's best match (a mutual pair), when it is the best match a
    cluster has with a half of a mutual pair, or when a third cluster matches both sides (a triangle). A match that
    is none of these (one cluster between two others that do not match each other) is not: it would chain. -#}
with pairs as (
    select * from {{ source('cdp_linkage', 'identity_match_pairs') }}
),

exact_clusters as (
    select * from {{ ref('int_identity_exact_clusters') }}
),

mapped as (
    select
        clusters_l.exact_cluster_key as exact_cluster_key_l,
        clusters_r.exact_cluster_key as exact_cluster_key_r,
        clusters_l.node_key as node_key_l,
        clusters_r.node_key as node_key_r,
        cast(pairs.match_probability as {{ dbt.type_float() }}) as match_probability,
        cast(pairs.match_weight as {{ dbt.type_float() }}) as match_weight
    from pairs
    inner join exact_clusters as clusters_l
        on clusters_l.node_key = {{ cdp_identity_node_key("'crm_customer_id'", 'pairs.crm_customer_id_l') }}
    inner join exact_clusters as clusters_r
        on clusters_r.node_key = {{ cdp_identity_node_key("'crm_customer_id'", 'pairs.crm_customer_id_r') }}
    where
        cast(pairs.match_probability as {{ dbt.type_float() }}) >= {{ var('cdp__identity_match_threshold') }}
        and clusters_l.exact_cluster_key <> clusters_r.exact_cluster_key
),

-- one row per pair of clusters, by its strongest record pair, in a fixed orientation
oriented as (
    select
        case when exact_cluster_key_l < exact_cluster_key_r then exact_cluster_key_l else exact_cluster_key_r end
            as exact_cluster_key_a,
        case when exact_cluster_key_l < exact_cluster_key_r then exact_cluster_key_r else exact_cluster_key_l end
            as exact_cluster_key_b,
        case when exact_cluster_key_l < exact_cluster_key_r then node_key_l else node_key_r end as node_key_a,
        case when exact_cluster_key_l < exact_cluster_key_r then node_key_r else node_key_l end as node_key_b,
        match_probability,
        match_weight
    from mapped
),

cluster_pairs as (
    select
        oriented.*,
        -- the weight, not the probability, ranks: probabilities of strong pairs all round to 1
        row_number() over (
            partition by oriented.exact_cluster_key_a, oriented.exact_cluster_key_b
            order by oriented.match_weight desc, oriented.node_key_a asc, oriented.node_key_b asc
        ) as pair_rank
    from oriented
),

strongest as (
    select * from cluster_pairs
    where pair_rank = 1
),

ends as (
    select
        exact_cluster_key_a as exact_cluster_key,
        exact_cluster_key_b as partner_key,
        match_weight
    from strongest
    union all
    select
        exact_cluster_key_b as exact_cluster_key,
        exact_cluster_key_a as partner_key,
        match_weight
    from strongest
),

ranked_partners as (
    select
        exact_cluster_key,
        partner_key,
        match_weight,
        row_number() over (partition by exact_cluster_key order by match_weight desc, partner_key asc) as partner_rank
    from ends
),

best_partners as (
    select
        exact_cluster_key,
        partner_key
    from ranked_partners
    where partner_rank = 1
),

-- clusters that are each other's best match (a mutual pair), one row per side
centres as (
    select
        best_partners.exact_cluster_key,
        best_partners.partner_key
    from best_partners
    inner join best_partners as partners_best
        on best_partners.partner_key = partners_best.exact_cluster_key
        and best_partners.exact_cluster_key = partners_best.partner_key
),

-- every other cluster's best match with a half of a mutual pair, if it has one
ranked_centres as (
    select
        ranked_partners.exact_cluster_key,
        ranked_partners.partner_key,
        row_number() over (
            partition by ranked_partners.exact_cluster_key
            order by ranked_partners.match_weight desc, ranked_partners.partner_key asc
        ) as centre_rank
    from ranked_partners
    inner join centres
        on ranked_partners.partner_key = centres.exact_cluster_key
    where ranked_partners.exact_cluster_key not in (select centre_keys.exact_cluster_key from centres as centre_keys)
),

anchors as (
    select
        exact_cluster_key,
        partner_key
    from ranked_centres
    where centre_rank = 1
),

-- matches confirmed by a third cluster matching both sides
triangles as (
    select distinct
        strongest.exact_cluster_key_a,
        strongest.exact_cluster_key_b
    from strongest
    inner join ends as ends_a
        on strongest.exact_cluster_key_a = ends_a.exact_cluster_key
    inner join ends as ends_b
        on strongest.exact_cluster_key_b = ends_b.exact_cluster_key
        and ends_a.partner_key = ends_b.partner_key
),

judged as (
    select
        strongest.*,
        mutual.exact_cluster_key is not null as is_mutual,
        anchor_a.exact_cluster_key is not null or anchor_b.exact_cluster_key is not null as is_anchored,
        triangles.exact_cluster_key_a is not null as is_in_triangle
    from strongest
    left join centres as mutual
        on strongest.exact_cluster_key_a = mutual.exact_cluster_key
        and strongest.exact_cluster_key_b = mutual.partner_key
    left join anchors as anchor_a
        on strongest.exact_cluster_key_a = anchor_a.exact_cluster_key
        and strongest.exact_cluster_key_b = anchor_a.partner_key
    left join anchors as anchor_b
        on strongest.exact_cluster_key_b = anchor_b.exact_cluster_key
        and strongest.exact_cluster_key_a = anchor_b.partner_key
    left join triangles
        on strongest.exact_cluster_key_a = triangles.exact_cluster_key_a
        and strongest.exact_cluster_key_b = triangles.exact_cluster_key_b
),

final as (
    select
        {{ cdp_surrogate_key(['exact_cluster_key_a', 'exact_cluster_key_b']) }} as probabilistic_link_id,
        exact_cluster_key_a,
        exact_cluster_key_b,
        node_key_a,
        node_key_b,
        match_probability,
        match_weight,
        is_mutual or is_anchored or is_in_triangle as is_accepted,
        case
            when is_mutual then 'mutual_best_match'
            when is_anchored then 'best_match_with_a_mutual_pair'
            when is_in_triangle then 'confirmed_by_a_third_cluster'
        end as accepted_as,
        case when not (is_mutual or is_anchored or is_in_triangle) then 'would_chain' end as drop_reason
    from judged
)

select * from final
