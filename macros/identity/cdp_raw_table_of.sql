{#- The raw contract table a staging model reads, found by walking the model's parents to its source. -#}
{% macro cdp_raw_table_of(model_name) -%}
    {%- if not execute -%}{{ return(model_name) }}{%- endif -%}
    {%- set pending = ['model.' ~ project_name ~ '.' ~ model_name] -%}
    {%- for node_id in pending -%}
        {%- if node_id.startswith('source.') -%}
            {{ return(graph.sources[node_id].name) }}
        {%- endif -%}
        {%- for parent in graph.nodes[node_id].depends_on.nodes -%}
            {%- do pending.append(parent) -%}
        {%- endfor -%}
    {%- endfor -%}
    {{ return(model_name) }}
{%- endmacro %}

{#- A case expression naming the raw table of each identity source model (var cdp__identity_sources). -#}
{% macro cdp_identity_source_table(source_model_expression) -%}
    case {{ source_model_expression }}
        {%- for source in var('cdp__identity_sources') %}
        when '{{ source.model }}' then '{{ cdp_raw_table_of(source.model) }}'
        {%- endfor %}
    end
{%- endmacro %}
