{#-
    Junk patterns are read when the model runs and written into the SQL as literals, so
    that the one regular-expression macro (cdp_regexp_matches) serves every warehouse.
-#}
{% set junk_rules = [] -%}
{%- if execute -%}
    {%- set rows = run_query(
        'select identifier_type, pattern, description from ' ~ ref('identity_junk_identifiers')
        ~ ' order by identifier_type, pattern'
    ) -%}
    {%- for row in rows -%}
        {%- do junk_rules.append(row) -%}
    {%- endfor -%}
{%- endif -%}
{%- set limited_types = [] -%}
{%- for identifier_type, maximum in var('cdp__identity_max_per_person').items() if maximum is not none -%}
    {%- do limited_types.append(identifier_type) -%}
{%- endfor -%}

with observations as (
    select * from {{ ref('int_identity_observations') }}
),

evidence as (
    select * from {{ ref('int_identity_link_evidence') }}
),

identifiers as (
    select
        node_key,
        identifier_type,
        identifier_value,
        min(observed_at) as first_seen_at,
        max(observed_at) as last_seen_at,
        count(*) as observation_count
    from observations
    group by node_key, identifier_type, identifier_value
),

junk_checked as (
    select
        *,
        case
            {%- for identifier_type, pattern, description in junk_rules %}
                when
                    {{ "true" if identifier_type == 'any' else "identifier_type = '" ~ identifier_type ~ "'" }}
                    and {{ cdp_regexp_matches('identifier_value', pattern) }}
                    then '{{ description | replace("'", "''") }}'
            {%- endfor %}
        end as junk_description
    from identifiers
),

-- both directions of every link between identifiers that are not junk
neighbours as (
    select
        evidence.node_key_a as node_key,
        evidence.node_key_b as neighbour_key,
        evidence.identifier_type_b as neighbour_type
    from evidence
    union
    select
        evidence.node_key_b as node_key,
        evidence.node_key_a as neighbour_key,
        evidence.identifier_type_a as neighbour_type
    from evidence
),

clean_neighbours as (
    select neighbours.*
    from neighbours
    inner join junk_checked as junk_checked_neighbour on neighbours.neighbour_key = junk_checked_neighbour.node_key
    inner join junk_checked as junk_checked_node on neighbours.node_key = junk_checked_node.node_key
    where junk_checked_neighbour.junk_description is null and junk_checked_node.junk_description is null
),

degrees as (
    select
        node_key,
        neighbour_type,
        count(distinct neighbour_key) as neighbour_count,
        row_number()
            over (partition by node_key order by count(distinct neighbour_key) desc, neighbour_type)
            as degree_rank
    from clean_neighbours
    where
        neighbour_type in (
            '{{ limited_types | join("', '") }}'
        )
    group by node_key, neighbour_type
),

widest as (
    select
        node_key,
        neighbour_type,
        neighbour_count
    from degrees
    where degree_rank = 1
)

select
    junk_checked_neighbour.node_key,
    junk_checked_neighbour.identifier_type,
    junk_checked_neighbour.identifier_value,
    junk_checked_neighbour.first_seen_at,
    junk_checked_neighbour.last_seen_at,
    junk_checked_neighbour.observation_count,
    coalesce(widest.neighbour_count, 0) as max_linked_of_one_type,
    case
        when junk_checked_neighbour.junk_description is not null then 'junk_identifier'
        when widest.neighbour_count > {{ var('cdp__identity_max_degree') | int }} then 'abnormal_degree'
    end as exclusion_reason,
    case
        when junk_checked_neighbour.junk_description is not null then junk_checked_neighbour.junk_description
        when widest.neighbour_count > {{ var('cdp__identity_max_degree') | int }}
            then
                {{ dbt.concat([
                    "'linked to '", dbt.cast('widest.neighbour_count', dbt.type_string()),
                    "' identifiers of type '", 'widest.neighbour_type',
                    "' (var cdp__identity_max_degree: " ~ var('cdp__identity_max_degree') ~ ")'",
                ]) }}
    end as exclusion_detail
from junk_checked as junk_checked_neighbour
left join widest on junk_checked_neighbour.node_key = widest.node_key
-- depends_on: {{ ref('identity_junk_identifiers') }}
