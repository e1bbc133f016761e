{#-
    Identifiers kept out of the graph, in the columns of fct_quarantined_rows: one row per
    excluded identifier and source row that carried it.
-#}
with excluded as (
    select * from {{ ref('int_identity_identifiers') }}
    where exclusion_reason is not null
),

observations as (
    select * from {{ ref('int_identity_observations') }}
)

select
    {{ cdp_surrogate_key(['observations.source_model', 'observations.source_key', 'excluded.node_key']) }}
        as identity_quarantine_id,
    {{ cdp_identity_source_table('observations.source_model') }} as source_table,
    observations.source_key,
    excluded.exclusion_reason as reason,
    excluded.identifier_type as column_name,
    'identifier_excluded' as action,
    {{ dbt.concat([
        "'{\"identifier_type\": \"'", 'excluded.identifier_type',
        "'\", \"detail\": \"'", 'excluded.exclusion_detail', "'\"}'",
    ]) }} as raw_row,
    cast(null as {{ dbt.type_string() }}) as source_file,
    cast(null as {{ dbt.type_bigint() }}) as source_row
from excluded
inner join observations on excluded.node_key = observations.node_key
