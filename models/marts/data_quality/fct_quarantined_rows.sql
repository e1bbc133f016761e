{#- One call per base staging model; add a line here when you add a source. -#}
{%- set base_models = [
    (ref('base_crm__customers'), 'crm_customers'),
] -%}

with load_issues as (
    select
        source_table,
        cast(null as {{ dbt.type_string() }}) as source_key,
        reason,
        cast(null as {{ dbt.type_string() }}) as column_name,
        'row_quarantined' as action,
        raw_text as raw_row,
        source_file,
        source_line as source_row
    from {{ source('cdp_loader', 'cdp_load_issues') }}
),

staging_issues as (
    {% for relation, source_table in base_models %}
    {{ cdp_quarantine_rows(relation, source_table) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

quarantined as (
    select * from load_issues
    union all
    select * from staging_issues
)

select
    {{ cdp_surrogate_key(['source_table', 'source_file', 'source_row', 'source_key', 'reason', 'column_name', 'raw_row']) }} as quarantined_row_id,
    source_table,
    source_key,
    reason,
    column_name,
    action,
    raw_row,
    source_file,
    source_row,
    {{ cdp_as_of() }} as quarantined_as_of
from quarantined
