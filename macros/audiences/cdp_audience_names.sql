{#-
    The audiences a journey may name: every aud_ model of the project and the YAML
    audiences (audiences.yml) the audience step last evaluated. dbt cannot read
    audiences.yml itself, so the YAML names come from the step's table
    (source cdp_audiences.audience_definitions); cdp.audiences.audience_names() gives
    the same list from Python. While dbt parses there is neither a graph nor a
    warehouse to ask, nor in a unit test: the names the journeys use are taken as they
    are then, and checked when the model that uses them runs.
-#}
{% macro cdp_audience_names() -%}
    {%- if not execute or graph.get('nodes') is none -%}
        {{ return(var('cdp__journeys', []) | map(attribute='entry') | selectattr('audience', 'defined') | map(attribute='audience') | list) }}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name and node.name.startswith('aud_') -%}
        {%- do names.append(node.name[4:]) -%}
    {%- endfor -%}
    {#- Looked up in the graph rather than with source(): the models calling this do not depend on the table. -#}
    {%- for table in graph.sources.values()
        if table.source_name == 'cdp_audiences' and table.name == 'audience_definitions' -%}
        {%- set definitions = adapter.get_relation(database=table.database, schema=table.schema, identifier=table.identifier) -%}
        {#- None before the audience step first ran (a new warehouse): only the aud_ models are known then. -#}
        {%- if definitions is not none -%}
            {%- set declared = run_query("select audience_name from " ~ definitions ~ " where audience_kind = 'yaml'") -%}
            {%- for row in declared.rows if row[0] not in names -%}
                {%- do names.append(row[0]) -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names | sort) }}
{%- endmacro %}
