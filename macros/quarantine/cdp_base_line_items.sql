{#
    The base model of a line-item table (online order lines, store receipt lines): both
    have the same shape and rules, keyed by their parent's id and a line number.
#}
{% macro cdp_base_line_items(source_name, table_name, parent_key) -%}
with source as (
    select * from {{ source(source_name, table_name) }}
),

typed as (
    select
        {{ cdp_source_lineage(source_name, table_name) }},
        {{ cdp_clean_text(parent_key) }} as {{ parent_key }},
        {{ cdp_try_cast('line_number', dbt.type_int()) }} as line_number,
        {{ cdp_clean_text('product_id') }} as product_id,
        {{ cdp_try_cast('quantity', dbt.type_int()) }} as quantity,
        {{ cdp_try_cast('unit_price', 'decimal(18, 2)') }} as unit_price,
        {{ cdp_clean_text('quantity') }} as _raw_quantity,
        {{ cdp_clean_text('unit_price') }} as _raw_unit_price
    from source
),

checked as (
    {{ cdp_reject_bad_rows(
        'typed',
        key_columns=[parent_key, 'line_number'],
        checks=cdp_check_key([parent_key, 'line_number'])
            + cdp_check_required('quantity')
            + cdp_check_required('unit_price')
            + cdp_check_range('unit_price', min_value=0)
    ) }}
)

select * from checked
{%- endmacro %}
