{#
    Materializations for models whose result needs a loop (dbt SQL models are one
    statement). The model's SQL is the input of the loop; the loop runs with run_query on
    work tables next to the model; its result replaces the model's table. Compiling the
    model (dbt compile, docs) runs nothing: the loop only runs when the model is built.
#}
{% materialization cdp_connected_components, default %}
    {%- set max_rounds = config.get('max_rounds') or var('cdp__identity_max_rounds') -%}
    {{ run_hooks(pre_hooks) }}
    {%- set result = cdp_connected_components(sql, this, max_rounds | int) -%}
    {%- set target_relation = cdp_replace_table_with(result['relation']) -%}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{% materialization cdp_capped_merge, default %}
    {{ run_hooks(pre_hooks) }}
    {%- set result = cdp_capped_merge(sql, this, config.require('limits'), (config.get('max_steps') or var('cdp__identity_max_conflict_steps')) | int) -%}
    {%- set target_relation = cdp_replace_table_with(result['relation']) -%}
    {{ run_hooks(post_hooks) }}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}

{#- The model's table becomes a copy of `work_relation` (which is dropped), as the table materialization would do it. -#}
{% macro cdp_replace_table_with(work_relation) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table') -%}
    {%- do adapter.drop_relation(intermediate_relation) -%}
    {%- do adapter.drop_relation(backup_relation) -%}
    {%- call statement('main') -%}
        {{ get_create_table_as_sql(False, intermediate_relation, 'select * from ' ~ work_relation) }}
    {%- endcall -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if existing_relation is not none -%}
        {%- do adapter.rename_relation(existing_relation, backup_relation) -%}
    {%- endif -%}
    {%- do adapter.rename_relation(intermediate_relation, target_relation) -%}
    {%- do persist_docs(target_relation, model) -%}
    {%- do adapter.commit() -%}
    {%- do adapter.drop_relation(backup_relation) -%}
    {%- do adapter.drop_relation(work_relation) -%}
    {{ return(target_relation) }}
{%- endmacro %}
