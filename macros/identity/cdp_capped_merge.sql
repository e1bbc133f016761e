{#
    Union of nodes along ranked links under limits on how many nodes of each type one
    set may hold: Kruskal's procedure with a capacity check. Links are taken in
    `link_order`; a link whose two sets would together hold more nodes of some type than
    `limits[type]` allows is skipped, so a lower-ranked link never undoes a higher-ranked
    one, and the rest of the group stands.

    input_sql: a select with columns group_key, link_order (1, 2, ... within a group),
      node_key_a, node_type_a, node_key_b, node_type_b. Groups are independent (the
      connected components that break a limit) and are processed side by side: step k
      takes the k-th link of every group, so the number of steps is the largest number
      of links in one group, not the total.
    limits: {node_type: maximum per set}; types not named are unlimited.
    max_steps: links ranked beyond it are left unmerged (see cdp__identity_max_conflict_steps).
    Returns {'relation': <node_key, group_key, set_key>, 'steps': n}.

    Links end up merged exactly when both ends share a set_key: once two sets are too
    big to merge, their supersets are too.
#}
{% macro cdp_capped_merge(input_sql, work, limits, max_steps) -%}
    {%- set rel = {} -%}
    {%- for name in ['links', 'members', 'next'] -%}
        {%- do rel.update({name: api.Relation.create(database=work.database, schema=work.schema, identifier=work.identifier ~ '__merge_' ~ name, type='table')}) -%}
        {%- do adapter.drop_relation(rel[name]) -%}
    {%- endfor -%}
    {%- call statement('cdp_merge_links') -%}
        {{ get_create_table_as_sql(False, rel['links'], input_sql) }}
    {%- endcall -%}
    {%- call statement('cdp_merge_members') -%}
        {{ get_create_table_as_sql(False, rel['members'],
            'select distinct node_key, node_type, group_key, node_key as set_key from ('
            ~ ' select node_key_a as node_key, node_type_a as node_type, group_key from ' ~ rel['links']
            ~ ' union all'
            ~ ' select node_key_b as node_key, node_type_b as node_type, group_key from ' ~ rel['links'] ~ ') as ends') }}
    {%- endcall -%}
    {%- set longest = run_query('select coalesce(max(link_order), 0) from ' ~ rel['links']).columns[0].values()[0] | int -%}
    {%- if longest > max_steps -%}
        {%- do log('capped merge ' ~ work.identifier ~ ': a group has ' ~ longest ~ ' links; links ranked after ' ~ max_steps ~ ' are left unmerged (var cdp__identity_max_conflict_steps)', info=true) -%}
    {%- endif -%}
    {%- set steps = [longest, max_steps] | min -%}
    {%- for step in range(1, steps + 1) -%}
        {%- call statement('cdp_merge_step') -%}
            {{ get_create_table_as_sql(False, rel['next'], cdp_capped_merge_step_sql(rel['links'], rel['members'], step, limits)) }}
        {%- endcall -%}
        {%- do adapter.drop_relation(rel['members']) -%}
        {%- do adapter.rename_relation(rel['next'], rel['members']) -%}
    {%- endfor -%}
    {%- do log('capped merge ' ~ work.identifier ~ ': ' ~ steps ~ ' steps', info=true) -%}
    {%- do adapter.drop_relation(rel['links']) -%}
    {{ return({'relation': rel['members'], 'steps': steps}) }}
{%- endmacro %}

{% macro cdp_capped_merge_step_sql(links, members, step, limits) -%}
    with step_links as (
        select members_a.set_key as set_a, members_b.set_key as set_b
        from {{ links }} as links
        inner join {{ members }} as members_a on links.node_key_a = members_a.node_key
        inner join {{ members }} as members_b on links.node_key_b = members_b.node_key
        where links.link_order = {{ step }} and members_a.set_key <> members_b.set_key
    ),

    set_sizes as (
        select set_key, node_type, count(*) as node_count
        from {{ members }}
        where set_key in (select set_a from step_links union all select set_b from step_links)
        group by set_key, node_type
    ),

    too_big as (
        select step_links.set_a, step_links.set_b
        from step_links
        inner join set_sizes on set_sizes.set_key = step_links.set_a or set_sizes.set_key = step_links.set_b
        group by step_links.set_a, step_links.set_b, set_sizes.node_type
        having sum(set_sizes.node_count) > max({{ cdp_limit_of('set_sizes.node_type', limits) }})
    ),

    merges as (
        select step_links.set_a, step_links.set_b
        from step_links
        left join too_big on step_links.set_a = too_big.set_a and step_links.set_b = too_big.set_b
        where too_big.set_a is null
    )

    select
        members.node_key,
        members.node_type,
        members.group_key,
        case
            when merges.set_a is null then members.set_key
            when merges.set_a < merges.set_b then merges.set_a
            else merges.set_b
        end as set_key
    from {{ members }} as members
    left join merges on members.set_key = merges.set_a or members.set_key = merges.set_b
{%- endmacro %}

{#- The limit for a node type as a SQL expression (null: unlimited). -#}
{% macro cdp_limit_of(type_expression, limits) -%}
    case {{ type_expression }}
        {%- for node_type, maximum in limits.items() if maximum is not none %}
        when '{{ node_type }}' then {{ maximum | int }}
        {%- endfor %}
    end
{%- endmacro %}
