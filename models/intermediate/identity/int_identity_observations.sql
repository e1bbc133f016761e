{#- Every identifier seen in a source row named by var cdp__identity_sources. -#}
{%- set observations = [] -%}
{%- for source in var('cdp__identity_sources') -%}
    {%- for identifier_type in source.identifiers -%}
        {%- set observation -%}
    select
        '{{ source.model }}' as source_model,
        cast({{ source.key }} as {{ dbt.type_string() }}) as source_key,
        '{{ identifier_type }}' as identifier_type,
        cast({{ identifier_type }} as {{ dbt.type_string() }}) as identifier_value,
        cast({{ source.observed_at }} as {{ dbt.type_timestamp() }}) as observed_at,
        {{ source.trust }} as source_trust
    from {{ ref(source.model) }}
    where {{ identifier_type }} is not null
        {%- endset -%}
        {%- do observations.append(observation) -%}
    {%- endfor -%}
{%- endfor -%}

with observations as (
    {{ observations | join('\n    union all\n') }}
)

select
    {{ cdp_surrogate_key(['source_model', 'source_key', 'identifier_type']) }} as observation_id,
    source_model,
    source_key,
    identifier_type,
    identifier_value,
    {{ cdp_identity_node_key('identifier_type', 'identifier_value') }} as node_key,
    observed_at,
    source_trust
from observations
