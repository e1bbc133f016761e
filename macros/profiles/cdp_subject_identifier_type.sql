{#
    The identity graph's identifier_type for a privacy subject_type (consents, erasure
    requests): the raw contract says customer_id where the graph says crm_customer_id.
#}
{% macro cdp_subject_identifier_type(subject_type_column) -%}
    case when {{ subject_type_column }} = 'customer_id' then 'crm_customer_id' else {{ subject_type_column }} end
{%- endmacro %}
