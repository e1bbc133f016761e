{#
    Models land in the schema their folder names (staging, intermediate, marts) instead
    of dbt's default "<target schema>_<custom schema>", so that users and activation
    read stable names such as marts.dim_persons on every target.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
