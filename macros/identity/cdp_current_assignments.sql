{#- The current person of each identifier in the append-only assignment log: its latest row. -#}
{% macro cdp_current_assignments(log_relation) -%}
    select node_key, person_id
    from (
        select node_key, person_id, row_number() over (partition by node_key order by run_number desc) as recency
        from {{ log_relation }}
    ) as ranked
    where recency = 1
{%- endmacro %}
