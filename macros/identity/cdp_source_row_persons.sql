{#
    The person of every row of staging model `model_name`, as int_identity_source_row_persons
    decides it (the first identifier type of cdp__identity_type_precedence that the row
    carries and the graph admitted): a select of source_key and person_id. Every model
    that needs the person of a source row reads it through here, so that one rule decides
    everywhere. A model that is not an identity source (cdp__identity_sources) has no
    persons to read, and naming one stops the build.
#}
{% macro cdp_source_row_persons(model_name) -%}
    {%- set identity_sources = var('cdp__identity_sources') | map(attribute='model') | list -%}
    {%- if model_name not in identity_sources -%}
        {{ exceptions.raise_compiler_error(model_name ~ ' is not one of cdp__identity_sources (' ~ identity_sources | join(', ') ~ '): its rows have no person') }}
    {%- endif -%}
    select
        source_key,
        person_id
    from {{ ref('int_identity_source_row_persons') }}
    where source_model = '{{ model_name }}'
{%- endmacro %}
