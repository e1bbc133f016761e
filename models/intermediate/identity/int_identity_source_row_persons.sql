{#-
    The person of every source row that carries an identifier, decided by the first
    identifier type in var cdp__identity_type_precedence that the graph admitted: the one
    rule every model that needs a row's person reads (cdp_source_row_persons).
-#}
{%- set precedence = var('cdp__identity_type_precedence') -%}
with observations as (
    select * from {{ ref('int_identity_observations') }}
),

persons as (
    select * from {{ ref('bdg_person_identifiers') }}
),

ranked as (
    select
        observations.source_model,
        observations.source_key,
        persons.person_id,
        observations.identifier_type as decided_by_identifier_type,
        row_number() over (
            partition by observations.source_model, observations.source_key
            order by
                case observations.identifier_type
                    {%- for identifier_type in precedence %}
                        when '{{ identifier_type }}' then {{ loop.index }}
                    {%- endfor %}
                    else {{ precedence | length + 1 }}
                end,
                observations.identifier_type
        ) as precedence_rank
    from observations
    inner join persons
        on observations.identifier_type = persons.identifier_type
        and observations.identifier_value = persons.identifier_value
)

select
    {{ cdp_surrogate_key(['source_model', 'source_key']) }} as source_row_id,
    source_model,
    {{ cdp_identity_source_table('source_model') }} as source_table,
    source_key,
    person_id,
    decided_by_identifier_type
from ranked
where precedence_rank = 1
