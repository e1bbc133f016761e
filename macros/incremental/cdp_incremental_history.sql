{#
    The rows an append-only incremental model already holds: `select * from this` on an
    incremental run; on the first build (or a permitted full refresh), no rows, typed as the
    model's own columns, so that the rest of the model reads the same SQL either way.
    `columns` maps each column name to its type, in the model's column order.
#}
{% macro cdp_incremental_history(columns) -%}
    {%- if is_incremental() -%}
        select * from {{ this }}
    {%- else -%}
        select
        {%- for name, column_type in columns.items() %}
            cast(null as {{ column_type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where 1 = 0
    {%- endif -%}
{%- endmacro %}
