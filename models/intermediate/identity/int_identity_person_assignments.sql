{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=cdp_allow_identity_state_refresh(),
) }}
{#-
    Append-only log of which person each identifier belongs to: a row is written when an
    identifier is first assigned and whenever its person changes. The latest row per
    identifier is the current assignment. Rules (docs/identity.md):
      * a previous person id goes to the cluster that holds most of its identifiers
        (a split leaves the id with the larger part);
      * a cluster holding several previous ids keeps the oldest; the others are merged
        into it (change = 'merged', with the link that joined them);
      * a cluster with no previous id gets a new id derived from its smallest identifier,
        so a first build of the same input always issues the same ids.
-#}
with clusters as (
    select c.*, i.first_seen_at
    from {{ ref('int_identity_clusters') }} as c
    inner join {{ ref('int_identity_identifiers') }} as i on c.node_key = i.node_key
),

exact_links as (
    select node_key_a, node_key_b, link_rank, 'exact' as link_kind, cast(null as {{ dbt.type_float() }}) as match_probability
    from {{ ref('int_identity_link_outcomes') }}
    where is_accepted
),

probabilistic_links as (
    select node_key_a, node_key_b, 0 as link_rank, 'probabilistic' as link_kind, match_probability
    from {{ ref('int_identity_probabilistic_links') }}
    where is_accepted
),

{% if is_incremental() %}
history as (
    select * from {{ this }}
),
{% else %}
history as (
    select
        cast(null as {{ dbt.type_bigint() }}) as run_number,
        cast(null as {{ dbt.type_string() }}) as node_key,
        cast(null as {{ dbt.type_string() }}) as person_id,
        cast(null as {{ dbt.type_string() }}) as previous_person_id,
        cast(null as {{ dbt.type_string() }}) as change,
        cast(null as {{ dbt.type_bigint() }}) as person_born_run,
        cast(null as {{ dbt.type_timestamp() }}) as person_first_seen_at
    where 1 = 0
),
{% endif %}

this_run as (
    select coalesce(max(run_number), 0) + 1 as run_number from history
),

retired as (
    select distinct previous_person_id as person_id from history where change = 'merged'
),

persons_before as (
    select person_id, min(person_born_run) as person_born_run, min(person_first_seen_at) as person_first_seen_at
    from history
    group by person_id
),

latest as (
    {{ cdp_current_assignments('history') }}
),

-- an identifier whose last person was merged away claims nothing: that id is retired
current_claims as (
    select c.node_key, c.cluster_key, case when r.person_id is null then l.person_id end as previous_person_id
    from clusters as c
    left join latest as l on c.node_key = l.node_key
    left join retired as r on l.person_id = r.person_id
),

claim_sizes as (
    select previous_person_id, cluster_key, count(*) as identifier_count, min(node_key) as smallest_node_key
    from current_claims
    where previous_person_id is not null
    group by previous_person_id, cluster_key
),

kept as (
    select previous_person_id as person_id, cluster_key
    from (
        select
            *,
            row_number() over (partition by previous_person_id order by identifier_count desc, smallest_node_key) as keeper_rank
        from claim_sizes
    ) as ranked
    where keeper_rank = 1
),

kept_ranked as (
    select
        k.person_id,
        k.cluster_key,
        p.person_born_run,
        p.person_first_seen_at,
        row_number() over (
            partition by k.cluster_key order by p.person_born_run, p.person_first_seen_at, k.person_id
        ) as age_rank
    from kept as k
    inner join persons_before as p on k.person_id = p.person_id
),

cluster_facts as (
    select
        cluster_key,
        min(node_key) as smallest_node_key,
        min(first_seen_at) as first_seen_at
    from clusters
    group by cluster_key
),

new_ids as (
    select
        f.cluster_key,
        f.first_seen_at,
        'p_' || substr({{ dbt.hash('f.smallest_node_key') }}, 1, 20) as fresh_id,
        'p_' || substr({{ dbt.hash(dbt.concat(['f.smallest_node_key', "'|'", dbt.cast('t.run_number', dbt.type_string())])) }}, 1, 20) as fallback_id
    from cluster_facts as f
    cross join this_run as t
    left join kept_ranked as k on f.cluster_key = k.cluster_key and k.age_rank = 1
    where k.person_id is null
),

cluster_persons as (
    select cluster_key, person_id, person_born_run, person_first_seen_at
    from kept_ranked
    where age_rank = 1
    union all
    select
        n.cluster_key,
        case when p.person_id is null then n.fresh_id else n.fallback_id end as person_id,
        t.run_number as person_born_run,
        n.first_seen_at as person_first_seen_at
    from new_ids as n
    cross join this_run as t
    left join persons_before as p on n.fresh_id = p.person_id
),

losers as (
    select k.person_id as loser_person_id, k.cluster_key
    from kept_ranked as k
    where k.age_rank > 1
),

-- the strongest accepted link that ties a merged person's identifiers to the rest of its new cluster
merge_links as (
    select loser_person_id, node_key_a, node_key_b, link_kind, match_probability
    from (
        select
            o.loser_person_id,
            x.node_key_a,
            x.node_key_b,
            x.link_kind,
            x.match_probability,
            row_number() over (
                partition by o.loser_person_id
                order by case when x.link_kind = 'exact' then 0 else 1 end, x.link_rank, x.node_key_a, x.node_key_b
            ) as link_choice
        from losers as o
        inner join current_claims as inside on inside.previous_person_id = o.loser_person_id
        inner join (select * from exact_links union all select * from probabilistic_links) as x
            on x.node_key_a = inside.node_key or x.node_key_b = inside.node_key
        inner join current_claims as other
            on other.node_key = case when x.node_key_a = inside.node_key then x.node_key_b else x.node_key_a end
        where other.cluster_key = o.cluster_key
            and (other.previous_person_id is null or other.previous_person_id <> o.loser_person_id)
    ) as ranked
    where link_choice = 1
),

assigned as (
    select
        c.node_key,
        c.cluster_key,
        c.previous_person_id,
        p.person_id,
        p.person_born_run,
        p.person_first_seen_at,
        case
            when c.previous_person_id is null then 'new'
            when c.previous_person_id = p.person_id then 'unchanged'
            when o.loser_person_id is not null then 'merged'
            else 'split'
        end as change
    from current_claims as c
    inner join cluster_persons as p on c.cluster_key = p.cluster_key
    left join losers as o on c.previous_person_id = o.loser_person_id and c.cluster_key = o.cluster_key
)

select
    {{ cdp_surrogate_key(['a.node_key', 't.run_number']) }} as assignment_id,
    t.run_number,
    {{ cdp_as_of() }} as assigned_at,
    a.node_key,
    i.identifier_type,
    i.identifier_value,
    a.person_id,
    a.previous_person_id,
    a.change,
    a.person_born_run,
    a.person_first_seen_at,
    m.node_key_a as merge_link_node_key_a,
    m.node_key_b as merge_link_node_key_b,
    m.link_kind as merge_link_kind,
    m.match_probability as merge_link_match_probability
from assigned as a
cross join this_run as t
inner join clusters as i on a.node_key = i.node_key
left join merge_links as m on a.change = 'merged' and a.previous_person_id = m.loser_person_id
where a.change <> 'unchanged'
