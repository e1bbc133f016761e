{#
    The quarantine rows of one base staging model: every rejected row, and every value
    nulled in a kept row (a column named _issue__<column> holds the reason). Used by
    fct_quarantined_rows, one call per base model.
#}
{% macro cdp_quarantine_rows(relation, source_table) -%}
    {%- set issue_columns = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) if column.name.startswith('_issue__') -%}
            {%- do issue_columns.append(column.name) -%}
        {%- endfor -%}
    {%- endif -%}
    select
        '{{ source_table }}' as source_table,
        _cdp_key as source_key,
        _rejection_reason as reason,
        _rejection_column as column_name,
        case when _rejection_reason = 'exact_duplicate' then 'row_deduplicated' else 'row_quarantined' end as action,
        _cdp_raw_row as raw_row,
        _cdp_source_file as source_file,
        _cdp_source_row as source_row
    from {{ relation }}
    where _rejection_reason is not null
    {%- for issue_column in issue_columns %}

    union all

    select
        '{{ source_table }}' as source_table,
        _cdp_key as source_key,
        {{ issue_column }} as reason,
        '{{ issue_column[8:] }}' as column_name,
        'value_nulled' as action,
        _cdp_raw_row as raw_row,
        _cdp_source_file as source_file,
        _cdp_source_row as source_row
    from {{ relation }}
    where _rejection_reason is null and {{ issue_column }} is not null
    {%- endfor %}
{%- endmacro %}
