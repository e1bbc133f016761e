{#
    Co-purchase recommendations: one select over `purchased_products` (a relation or CTE
    with person_id, product_id and purchased_at, one row per product of a purchase, every
    channel) giving up to `per_person` products per person, ranked, with their score.
    Only purchases up to `cut_off` (an SQL timestamp expression) are read, so that
    fct_person_recommendations (cut-off: the plan's moment) and the offline evaluation
    (benchmarks/bench_recommendations.py: a cut-off in the past) run the same SQL.

    Affinity of products a and b: the persons who bought both divided by the geometric
    mean of the persons who bought each (cosine similarity of the products' buyer sets),
    for pairs with at least cdp__recommendations_min_co_buyers buyers in common. A
    person's score for a product they never bought is the sum of its affinities with the
    products they did buy; what they bought is never recommended. Scores are rounded to
    6 decimals before ranking and ties go to the smaller product_id, so the ranking is
    the same on every warehouse and every build.
#}
{% macro cdp_co_purchase_recommendations(purchased_products, cut_off, per_person) -%}
    with recommendation_owned as (
        select distinct
            person_id,
            product_id
        from {{ purchased_products }}
        where
            person_id is not null
            and product_id is not null
            and purchased_at <= {{ cut_off }}
    ),

    recommendation_buyers as (
        select
            product_id,
            count(*) as buyers
        from recommendation_owned
        group by product_id
    ),

    recommendation_pairs as (
        select
            owned_a.product_id,
            owned_b.product_id as recommended_product_id,
            count(*) as co_buyers
        from recommendation_owned as owned_a
        inner join recommendation_owned as owned_b
            on owned_a.person_id = owned_b.person_id
            and owned_a.product_id <> owned_b.product_id
        group by owned_a.product_id, owned_b.product_id
        having count(*) >= {{ var('cdp__recommendations_min_co_buyers') }}
    ),

    recommendation_affinities as (
        select
            recommendation_pairs.product_id,
            recommendation_pairs.recommended_product_id,
            recommendation_pairs.co_buyers
            / sqrt(cast(buyers_a.buyers as {{ cdp_type_double() }}) * buyers_b.buyers) as affinity
        from recommendation_pairs
        inner join recommendation_buyers as buyers_a on recommendation_pairs.product_id = buyers_a.product_id
        inner join recommendation_buyers as buyers_b
            on recommendation_pairs.recommended_product_id = buyers_b.product_id
    ),

    recommendation_scores as (
        select
            recommendation_owned.person_id,
            recommendation_affinities.recommended_product_id as product_id,
            round(sum(recommendation_affinities.affinity), 6) as score
        from recommendation_owned
        inner join recommendation_affinities on recommendation_owned.product_id = recommendation_affinities.product_id
        left join recommendation_owned as already_owned
            on recommendation_owned.person_id = already_owned.person_id
            and recommendation_affinities.recommended_product_id = already_owned.product_id
        where already_owned.person_id is null
        group by recommendation_owned.person_id, recommendation_affinities.recommended_product_id
    ),

    recommendation_ranks as (
        select
            person_id,
            product_id,
            score,
            row_number() over (partition by person_id order by score desc, product_id asc) as recommendation_rank
        from recommendation_scores
    )

    select
        person_id,
        recommendation_rank,
        product_id,
        score
    from recommendation_ranks
    where recommendation_rank <= {{ per_person }}
{%- endmacro %}

{#- The product_ids of a person's rows of `recommendations` (a relation of
    fct_person_recommendations' columns), in rank order, joined with commas; use with
    group by person_id. -#}
{% macro cdp_ranked_product_list(recommendations) -%}
    {{ return(adapter.dispatch('cdp_ranked_product_list', 'cdp')(recommendations)) }}
{%- endmacro %}

{% macro default__cdp_ranked_product_list(recommendations) -%}
    {#- the rank is never null: `nulls first` only keeps the SQL transpilable as it is -#}
    string_agg({{ recommendations }}.product_id, ',' order by {{ recommendations }}.recommendation_rank nulls first)
{%- endmacro %}

{% macro spark__cdp_ranked_product_list(recommendations) -%}
    array_join(transform(
        array_sort(collect_list(struct({{ recommendations }}.recommendation_rank, {{ recommendations }}.product_id))),
        ranked -> ranked.product_id
    ), ',')
{%- endmacro %}
