{#- Probabilistic matches between exact clusters; accepted when above the threshold and each side's best match. -#}
with pairs as (
    select * from {{ source('cdp_linkage', 'identity_match_pairs') }}
),

exact_clusters as (
    select * from {{ ref('int_identity_exact_clusters') }}
),

mapped as (
    select
        l.exact_cluster_key as exact_cluster_key_l,
        r.exact_cluster_key as exact_cluster_key_r,
        l.node_key as node_key_l,
        r.node_key as node_key_r,
        cast(p.match_probability as {{ dbt.type_float() }}) as match_probability,
        cast(p.match_weight as {{ dbt.type_float() }}) as match_weight
    from pairs as p
    inner join exact_clusters as l
        on l.node_key = {{ cdp_identity_node_key("'crm_customer_id'", 'p.crm_customer_id_l') }}
    inner join exact_clusters as r
        on r.node_key = {{ cdp_identity_node_key("'crm_customer_id'", 'p.crm_customer_id_r') }}
    where cast(p.match_probability as {{ dbt.type_float() }}) >= {{ var('cdp__identity_match_threshold') }}
        and l.exact_cluster_key <> r.exact_cluster_key
),

-- one row per pair of clusters, by its strongest record pair, in a fixed orientation
cluster_pairs as (
    select
        case when exact_cluster_key_l < exact_cluster_key_r then exact_cluster_key_l else exact_cluster_key_r end as exact_cluster_key_a,
        case when exact_cluster_key_l < exact_cluster_key_r then exact_cluster_key_r else exact_cluster_key_l end as exact_cluster_key_b,
        case when exact_cluster_key_l < exact_cluster_key_r then node_key_l else node_key_r end as node_key_a,
        case when exact_cluster_key_l < exact_cluster_key_r then node_key_r else node_key_l end as node_key_b,
        match_probability,
        match_weight,
        row_number() over (
            partition by
                case when exact_cluster_key_l < exact_cluster_key_r then exact_cluster_key_l else exact_cluster_key_r end,
                case when exact_cluster_key_l < exact_cluster_key_r then exact_cluster_key_r else exact_cluster_key_l end
            order by match_probability desc, node_key_l, node_key_r
        ) as pair_rank
    from mapped
),

strongest as (
    select * from cluster_pairs where pair_rank = 1
),

ends as (
    select exact_cluster_key_a as exact_cluster_key, exact_cluster_key_b as partner_key, match_probability from strongest
    union all
    select exact_cluster_key_b as exact_cluster_key, exact_cluster_key_a as partner_key, match_probability from strongest
),

best_partner as (
    select
        exact_cluster_key,
        partner_key,
        row_number() over (partition by exact_cluster_key order by match_probability desc, partner_key) as partner_rank
    from ends
)

select
    {{ cdp_surrogate_key(['s.exact_cluster_key_a', 's.exact_cluster_key_b']) }} as probabilistic_link_id,
    s.exact_cluster_key_a,
    s.exact_cluster_key_b,
    s.node_key_a,
    s.node_key_b,
    s.match_probability,
    s.match_weight,
    ba.partner_key is not null and bb.partner_key is not null as is_accepted,
    case when ba.partner_key is null or bb.partner_key is null then 'not_mutual_best_match' end as drop_reason
from strongest as s
left join best_partner as ba
    on s.exact_cluster_key_a = ba.exact_cluster_key and ba.partner_rank = 1 and ba.partner_key = s.exact_cluster_key_b
left join best_partner as bb
    on s.exact_cluster_key_b = bb.exact_cluster_key and bb.partner_rank = 1 and bb.partner_key = s.exact_cluster_key_a
