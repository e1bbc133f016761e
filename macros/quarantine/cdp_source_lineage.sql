{#
    Lineage columns every base staging model starts with:
      _cdp_raw_row     the row as landed, as JSON (what quarantine shows)
      _cdp_row_hash    hash of all contract columns (finds exact duplicates)
      _cdp_source_file, _cdp_source_row   where the loader found the row; null for raw
                       tables that were not loaded by `cdp build`.
#}
{% macro cdp_source_lineage(source_name, table_name) -%}
    {%- set columns = cdp_source_columns(source_name, table_name) -%}
    {%- set present = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(source(source_name, table_name)) -%}
            {%- do present.append(column.name | lower) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ cdp_row_to_json(columns) if columns else "''" }} as _cdp_raw_row,
        {{ cdp_surrogate_key(columns | map('string') | list if columns else ["''"]) }} as _cdp_row_hash,
        {{ '_cdp_source_file' if '_cdp_source_file' in present else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as _cdp_source_file,
        {{ '_cdp_source_row' if '_cdp_source_row' in present else 'cast(null as ' ~ dbt.type_bigint() ~ ')' }} as _cdp_source_row
{%- endmacro %}
