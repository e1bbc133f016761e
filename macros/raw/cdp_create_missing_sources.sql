{#
    Run at the start of every dbt invocation: every raw source table that does not exist
    yet is created empty, with the contract's columns as text. A retailer who has no
    survey tool, say, simply has no survey_responses, and everything downstream sees an
    empty table instead of failing. A table whose meta names `cdp_created_by` has an
    owner that creates it with its real types (activation's migrations, which `cdp build`
    and `cdp migrate` run): no placeholder is made for it.
#}
{% macro cdp_create_missing_sources() %}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set statements = [] -%}
    {%- for source in graph.sources.values() if source.package_name == project_name and not source.meta.get('cdp_created_by') -%}
        {%- set existing = adapter.get_relation(database=source.database, schema=source.schema, identifier=source.identifier) -%}
        {%- if existing is none -%}
            {%- set columns = [] -%}
            {%- for column in source.columns.values() -%}
                {%- do columns.append(adapter.quote(column.name) ~ ' ' ~ dbt.type_string()) -%}
            {%- endfor -%}
            {%- do columns.append('_cdp_source_file ' ~ dbt.type_string()) -%}
            {%- do columns.append('_cdp_source_row ' ~ dbt.type_bigint()) -%}
            {%- set relation = api.Relation.create(database=source.database, schema=source.schema, identifier=source.identifier) -%}
            {%- do adapter.create_schema(relation) -%}
            {%- do statements.append('create table ' ~ relation ~ ' (' ~ columns | join(', ') ~ ')') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- for ddl in statements -%}
        {%- call statement('cdp_create_missing_source', auto_begin=True) -%}{{ ddl }}{%- endcall -%}
    {%- endfor -%}
    {#- Committed here: the hook's connection is rolled back afterwards, and looking up a
        relation may have opened the transaction these statements ran in. -#}
    {%- if statements | length > 0 -%}
        {%- do adapter.commit() -%}
    {%- endif -%}
    {%- if statements | length > 0 -%}
        {{ log('Created ' ~ statements | length ~ ' missing raw source table(s) as empty tables.', info=true) }}
    {%- endif -%}
    {{ return('') }}
{% endmacro %}
