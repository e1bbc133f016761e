{# The contract's column names of a raw source table, in contract order. #}
{% macro cdp_source_columns(source_name, table_name) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
    {{ return(node.columns.keys() | list) }}
{%- endmacro %}

{# The contract's accepted values of an enum column, as a SQL list: ('a', 'b'). #}
{% macro cdp_accepted_values(source_name, table_name, column_name) -%}
    {%- if not execute -%}{{ return("('')") }}{%- endif -%}
    {%- set node = graph.sources['source.' ~ project_name ~ '.' ~ source_name ~ '.' ~ table_name] -%}
    {%- set values = node.columns[column_name].meta.get('accepted_values') -%}
    {%- if not values -%}
        {{ exceptions.raise_compiler_error(source_name ~ '.' ~ table_name ~ '.' ~ column_name ~ ' has no meta.accepted_values in its source definition') }}
    {%- endif -%}
    {{ return("('" ~ values | join("', '") ~ "')") }}
{%- endmacro %}
