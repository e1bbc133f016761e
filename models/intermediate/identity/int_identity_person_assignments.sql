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
    select
        int_identity_clusters.*,
        int_identity_identifiers.first_seen_at
    from {{ ref('int_identity_clusters') }} as int_identity_clusters
    inner join {{ ref('int_identity_identifiers') }} as int_identity_identifiers
        on int_identity_clusters.node_key = int_identity_identifiers.node_key
),

exact_links as (
    select
        node_key_a,
        node_key_b,
        link_rank,
        'exact' as link_kind,
        cast(null as {{ dbt.type_float() }}) as match_probability
    from {{ ref('int_identity_link_outcomes') }}
    where is_accepted
),

probabilistic_links as (
    select
        node_key_a,
        node_key_b,
        0 as link_rank,
        'probabilistic' as link_kind,
        match_probability
    from {{ ref('int_identity_probabilistic_links') }}
    where is_accepted
),

history as (
    {{ cdp_incremental_history({
        'run_number': dbt.type_bigint(),
        'node_key': dbt.type_string(),
        'person_id': dbt.type_string(),
        'previous_person_id': dbt.type_string(),
        'change': dbt.type_string(),
        'person_born_run': dbt.type_bigint(),
        'person_first_seen_at': dbt.type_timestamp()
    }) }}
),

this_run as (
    select coalesce(max(run_number), 0) + 1 as run_number from history
),

retired as (
    select distinct previous_person_id as person_id from history
    where change = 'merged'
),

persons_before as (
    select
        person_id,
        min(person_born_run) as person_born_run,
        min(person_first_seen_at) as person_first_seen_at
    from history
    group by person_id
),

latest as (
    {{ cdp_current_assignments('history') }}
),

-- an identifier whose last person was merged away claims nothing: that id is retired
current_claims as (
    select
        clusters.node_key,
        clusters.cluster_key,
        case when retired.person_id is null then latest.person_id end as previous_person_id
    from clusters
    left join latest on clusters.node_key = latest.node_key
    left join retired on latest.person_id = retired.person_id
),

claim_sizes as (
    select
        previous_person_id,
        cluster_key,
        count(*) as identifier_count,
        min(node_key) as smallest_node_key
    from current_claims
    where previous_person_id is not null
    group by previous_person_id, cluster_key
),

kept as (
    select
        previous_person_id as person_id,
        cluster_key
    from (
        select
            *,
            row_number()
                over (partition by previous_person_id order by identifier_count desc, smallest_node_key asc)
                as keeper_rank
        from claim_sizes
    ) as ranked
    where keeper_rank = 1
),

kept_ranked as (
    select
        kept.person_id,
        kept.cluster_key,
        persons_before.person_born_run,
        persons_before.person_first_seen_at,
        row_number() over (
            partition by kept.cluster_key
            order by persons_before.person_born_run, persons_before.person_first_seen_at, kept.person_id
        ) as age_rank
    from kept
    inner join persons_before on kept.person_id = persons_before.person_id
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
        cluster_facts.cluster_key,
        cluster_facts.first_seen_at,
        'p_' || substr({{ dbt.hash('cluster_facts.smallest_node_key') }}, 1, 20) as fresh_id,
        'p_'
        || substr(
            {{ dbt.hash(dbt.concat([
                'cluster_facts.smallest_node_key', "'|'", dbt.cast('this_run.run_number', dbt.type_string()),
            ])) }},
            1,
            20
        )
            as fallback_id
    from cluster_facts
    cross join this_run
    left join kept_ranked on cluster_facts.cluster_key = kept_ranked.cluster_key and kept_ranked.age_rank = 1
    where kept_ranked.person_id is null
),

cluster_persons as (
    select
        cluster_key,
        person_id,
        person_born_run,
        person_first_seen_at
    from kept_ranked
    where age_rank = 1
    union all
    select
        new_ids.cluster_key,
        case when persons_before.person_id is null then new_ids.fresh_id else new_ids.fallback_id end as person_id,
        this_run.run_number as person_born_run,
        new_ids.first_seen_at as person_first_seen_at
    from new_ids
    cross join this_run
    left join persons_before on new_ids.fresh_id = persons_before.person_id
),

losers as (
    select
        kept_ranked.person_id as loser_person_id,
        kept_ranked.cluster_key
    from kept_ranked
    where kept_ranked.age_rank > 1
),

-- the strongest accepted link that ties a merged person's identifiers to the rest of its new cluster
merge_links as (
    select
        loser_person_id,
        node_key_a,
        node_key_b,
        link_kind,
        match_probability
    from (
        select
            losers.loser_person_id,
            accepted_links.node_key_a,
            accepted_links.node_key_b,
            accepted_links.link_kind,
            accepted_links.match_probability,
            row_number() over (
                partition by losers.loser_person_id
                order by
                    case when accepted_links.link_kind = 'exact' then 0 else 1 end,
                    accepted_links.link_rank,
                    accepted_links.node_key_a,
                    accepted_links.node_key_b
            ) as link_choice
        from losers
        inner join current_claims as inside on losers.loser_person_id = inside.previous_person_id
        inner join (
            select * from exact_links
            union all
            select * from probabilistic_links
        ) as accepted_links
            on inside.node_key = accepted_links.node_key_a or inside.node_key = accepted_links.node_key_b
        inner join current_claims as other
            on other.node_key = case
                when inside.node_key = accepted_links.node_key_a then accepted_links.node_key_b
                else accepted_links.node_key_a
            end
        where
            other.cluster_key = losers.cluster_key
            and (other.previous_person_id is null or other.previous_person_id <> losers.loser_person_id)
    ) as ranked
    where link_choice = 1
),

assigned as (
    select
        current_claims.node_key,
        current_claims.cluster_key,
        current_claims.previous_person_id,
        cluster_persons.person_id,
        cluster_persons.person_born_run,
        cluster_persons.person_first_seen_at,
        case
            when current_claims.previous_person_id is null then 'new'
            when current_claims.previous_person_id = cluster_persons.person_id then 'unchanged'
            when losers.loser_person_id is not null then 'merged'
            else 'split'
        end as change
    from current_claims
    inner join cluster_persons on current_claims.cluster_key = cluster_persons.cluster_key
    left join losers
        on current_claims.previous_person_id = losers.loser_person_id
        and current_claims.cluster_key = losers.cluster_key
)

select
    {{ cdp_surrogate_key(['assigned.node_key', 'this_run.run_number']) }} as assignment_id,
    this_run.run_number,
    {{ cdp_as_of() }} as assigned_at,
    assigned.node_key,
    clusters.identifier_type,
    clusters.identifier_value,
    assigned.person_id,
    assigned.previous_person_id,
    assigned.change,
    assigned.person_born_run,
    assigned.person_first_seen_at,
    merge_links.node_key_a as merge_link_node_key_a,
    merge_links.node_key_b as merge_link_node_key_b,
    merge_links.link_kind as merge_link_kind,
    merge_links.match_probability as merge_link_match_probability
from assigned
cross join this_run
inner join clusters on assigned.node_key = clusters.node_key
left join merge_links on assigned.change = 'merged' and assigned.previous_person_id = merge_links.loser_person_id
where assigned.change <> 'unchanged'
