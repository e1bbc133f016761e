{#- The person of every source row that carries an identifier, decided by the first identifier type in var cdp__identity_type_precedence. -#}
{%- set precedence = var('cdp__identity_type_precedence') -%}
with observations as (
    select * from {{ ref('int_identity_observations') }}
),

persons as (
    select * from {{ ref('bdg_person_identifiers') }}
),

ranked as (
    select
        o.source_model,
        o.source_key,
        p.person_id,
        o.identifier_type as decided_by_identifier_type,
        row_number() over (
            partition by o.source_model, o.source_key
            order by
                case o.identifier_type
                    {%- for identifier_type in precedence %}
                    when '{{ identifier_type }}' then {{ loop.index }}
                    {%- endfor %}
                    else {{ precedence | length + 1 }}
                end,
                o.identifier_type
        ) as precedence_rank
    from observations as o
    inner join persons as p
        on o.identifier_type = p.identifier_type
        and o.identifier_value = p.identifier_value
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
