{#- Identifiers kept out of the graph, in the columns of fct_quarantined_rows: one row per excluded identifier and source row that carried it. -#}
with excluded as (
    select * from {{ ref('int_identity_identifiers') }}
    where exclusion_reason is not null
),

observations as (
    select * from {{ ref('int_identity_observations') }}
)

select
    {{ cdp_surrogate_key(['o.source_model', 'o.source_key', 'e.node_key']) }} as identity_quarantine_id,
    {{ cdp_identity_source_table('o.source_model') }} as source_table,
    o.source_key,
    e.exclusion_reason as reason,
    e.identifier_type as column_name,
    'identifier_excluded' as action,
    {{ dbt.concat(["'{\"identifier_type\": \"'", 'e.identifier_type', "'\", \"detail\": \"'", 'e.exclusion_detail', "'\"}'"]) }} as raw_row,
    cast(null as {{ dbt.type_string() }}) as source_file,
    cast(null as {{ dbt.type_bigint() }}) as source_row
from excluded as e
inner join observations as o on e.node_key = o.node_key
