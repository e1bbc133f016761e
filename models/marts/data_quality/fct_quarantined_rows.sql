{#- One call per base staging model; add a line here when you add a source. -#}
{%- set base_models = [
    (ref('base_crm__customers'), 'crm_customers'),
    (ref('base_loyalty__members'), 'loyalty_members'),
    (ref('base_loyalty__point_entries'), 'loyalty_points'),
    (ref('base_web__events'), 'web_events'),
    (ref('base_app__events'), 'app_events'),
    (ref('base_shop__orders'), 'orders'),
    (ref('base_shop__order_lines'), 'order_lines'),
    (ref('base_pos__transactions'), 'pos_transactions'),
    (ref('base_pos__transaction_lines'), 'pos_lines'),
    (ref('base_catalog__products'), 'products'),
    (ref('base_catalog__stores'), 'stores'),
    (ref('base_privacy__consents'), 'consents'),
    (ref('base_privacy__erasure_requests'), 'erasure_requests'),
    (ref('base_support__tickets'), 'support_tickets'),
    (ref('base_messaging__message_events'), 'message_events'),
    (ref('base_surveys__responses'), 'survey_responses'),
] -%}

with load_issues as (
    select
        source_table,
        cast(issue_number as {{ dbt.type_string() }}) as source_key,
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

-- identifiers the identity graph keeps out (junk values, hubs); see docs/identity.md
identity_issues as (
    select
        source_table,
        source_key,
        reason,
        column_name,
        action,
        raw_row,
        source_file,
        source_row
    from {{ ref('int_identity_quarantined_identifiers') }}
),

quarantined as (
    select * from load_issues
    union all
    select * from staging_issues
    union all
    select * from identity_issues
)

select
    {{ cdp_surrogate_key([
        'source_table', 'source_file', 'source_row', 'source_key', 'reason', 'column_name', 'action', 'raw_row',
    ]) }} as quarantined_row_id,
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
