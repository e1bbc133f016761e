{#
    Connected components of an undirected graph given as an edge list, in portable SQL.

    edges_sql: a select with text columns node_key_a, node_key_b (one row per edge).
    work: a relation whose database/schema/identifier prefix the work tables use.
    Returns {'relation': <node_key, component_key>, 'rounds': n}.

    1. Every node key is encoded to an integer, numbered in the order of a hash of the key:
       joins on integers are several times faster than on text, and hash order makes the
       numbering unrelated to how ids were issued (a chain of ids that increase along
       the chain is no worse than any other graph).
    2. Labels are iterated as in FastSV (Zhang, Azad and Hu, 2020): each node points at
       a parent (initially itself); each round every node and every parent takes the
       smallest grandparent seen across its edges, then nodes jump to their grandparent.
       Hooking whole trees and jumping halves path lengths, so the number of rounds grows
       with the logarithm of the path length, not with the path length.
    3. The loop stops when no parent changes. At that point every node points at the
       smallest node of its component. More than `max_rounds` rounds is an error: it
       means a bug or a graph far outside what the algorithm is meant for, and a build
       that silently used half-resolved components would be worse.
#}
{% macro cdp_connected_components(edges_sql, work, max_rounds) -%}
    {%- set names = ['nodes', 'edges', 'parents', 'next', 'result'] -%}
    {%- set rel = {} -%}
    {%- for name in names -%}
        {%- do rel.update({name: api.Relation.create(database=work.database, schema=work.schema, identifier=work.identifier ~ '__cc_' ~ name, type='table')}) -%}
        {%- do adapter.drop_relation(rel[name]) -%}
    {%- endfor -%}

    {%- call statement('cdp_cc_nodes') -%}
        {{ get_create_table_as_sql(False, rel['nodes'], cdp_cc_encode_sql(edges_sql)) }}
    {%- endcall -%}
    {%- call statement('cdp_cc_edges') -%}
        {{ get_create_table_as_sql(False, rel['edges'], cdp_cc_edges_sql(edges_sql, rel['nodes'])) }}
    {%- endcall -%}
    {%- call statement('cdp_cc_parents') -%}
        {{ get_create_table_as_sql(False, rel['parents'], 'select node_id, node_id as parent_id from ' ~ rel['nodes']) }}
    {%- endcall -%}

    {%- set state = namespace(rounds=0, converged=false) -%}
    {%- for round in range(1, max_rounds + 1) if not state.converged -%}
        {%- call statement('cdp_cc_round') -%}
            {{ get_create_table_as_sql(False, rel['next'], cdp_cc_round_sql(rel['edges'], rel['parents'])) }}
        {%- endcall -%}
        {%- set changed = run_query(
            'select count(*) from ' ~ rel['next'] ~ ' n join ' ~ rel['parents'] ~ ' p on n.node_id = p.node_id where n.parent_id <> p.parent_id'
        ).columns[0].values()[0] -%}
        {%- do adapter.drop_relation(rel['parents']) -%}
        {%- do adapter.rename_relation(rel['next'], rel['parents']) -%}
        {%- set state.rounds = round -%}
        {%- do log('connected components ' ~ work.identifier ~ ': round ' ~ round ~ ', ' ~ changed ~ ' labels changed', info=true) -%}
        {%- if changed | int == 0 -%}
            {%- set state.converged = true -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not state.converged -%}
        {{ exceptions.raise_compiler_error(
            'connected components for ' ~ work.identifier ~ ' did not converge in ' ~ max_rounds
            ~ ' rounds (var cdp__identity_max_rounds); the graph is far outside what the algorithm expects, or there is a bug'
        ) }}
    {%- endif -%}

    {%- call statement('cdp_cc_result') -%}
        {{ get_create_table_as_sql(False, rel['result'],
            'select n.node_key, r.node_key as component_key from ' ~ rel['parents'] ~ ' p'
            ~ ' join ' ~ rel['nodes'] ~ ' n on p.node_id = n.node_id'
            ~ ' join ' ~ rel['nodes'] ~ ' r on p.parent_id = r.node_id') }}
    {%- endcall -%}
    {%- for name in ['nodes', 'edges', 'parents'] -%}
        {%- do adapter.drop_relation(rel[name]) -%}
    {%- endfor -%}
    {{ return({'relation': rel['result'], 'rounds': state.rounds}) }}
{%- endmacro %}

{% macro cdp_cc_encode_sql(edges_sql) -%}
    with edge_list as (
        {{ edges_sql }}
    ),

    node_keys as (
        select node_key_a as node_key from edge_list
        union
        select node_key_b as node_key from edge_list
    )

    select
        node_key,
        row_number() over (order by {{ cdp_hash_order_key('node_key') }}, node_key) as node_id
    from node_keys
{%- endmacro %}

{#- Both directions of every edge, as integers, without self-loops or repeats. -#}
{% macro cdp_cc_edges_sql(edges_sql, nodes) -%}
    with edge_list as (
        {{ edges_sql }}
    ),

    encoded as (
        select distinct a.node_id as id_a, b.node_id as id_b
        from edge_list as e
        inner join {{ nodes }} as a on e.node_key_a = a.node_key
        inner join {{ nodes }} as b on e.node_key_b = b.node_key
        where a.node_id <> b.node_id
    )

    select id_a as node_id, id_b as neighbour_id from encoded
    union
    select id_b as node_id, id_a as neighbour_id from encoded
{%- endmacro %}

{#- One round: hook nodes and their parents to the smallest grandparent across their edges, then jump. -#}
{% macro cdp_cc_round_sql(edges, parents) -%}
    with grandparents as (
        select n.node_id, p.parent_id as grandparent_id
        from {{ parents }} as n
        inner join {{ parents }} as p on n.parent_id = p.node_id
    ),

    candidates as (
        -- a node hooks onto its neighbour's grandparent
        select e.node_id, g.grandparent_id as candidate_id
        from {{ edges }} as e
        inner join grandparents as g on e.neighbour_id = g.node_id
        union all
        -- the node's parent (its whole tree) hooks there too
        select n.parent_id as node_id, g.grandparent_id as candidate_id
        from {{ edges }} as e
        inner join {{ parents }} as n on e.node_id = n.node_id
        inner join grandparents as g on e.neighbour_id = g.node_id
        union all
        -- and every node jumps to its grandparent
        select node_id, grandparent_id as candidate_id
        from grandparents
    ),

    best as (
        select node_id, min(candidate_id) as candidate_id
        from candidates
        group by node_id
    )

    select
        p.node_id,
        case when b.candidate_id < p.parent_id then b.candidate_id else p.parent_id end as parent_id
    from {{ parents }} as p
    left join best as b on p.node_id = b.node_id
{%- endmacro %}

{#-
    An order in which to number node keys that is unrelated to the keys' own order.
    Any deterministic hash will do; DuckDB's native hash is much faster than md5.
-#}
{% macro cdp_hash_order_key(expression) -%}
    {{ return(adapter.dispatch('cdp_hash_order_key', 'cdp')(expression)) }}
{%- endmacro %}

{% macro default__cdp_hash_order_key(expression) -%}
    {{ dbt.hash(expression) }}
{%- endmacro %}

{% macro duckdb__cdp_hash_order_key(expression) -%}
    hash({{ expression }})
{%- endmacro %}

{% macro spark__cdp_hash_order_key(expression) -%}
    xxhash64({{ expression }})
{%- endmacro %}

{#-
    `dbt run-operation cdp_connected_components_of --args '{edges_table: s.t, output_table: s.u}'`:
    the components of any table with columns node_key_a, node_key_b, written to
    output_table (node_key, component_key). `make bench-identity` measures this.
-#}
{% macro cdp_connected_components_of(edges_table, output_table, max_rounds=none) -%}
    {%- set schema, identifier = output_table.split('.') -%}
    {%- set output = api.Relation.create(database=target.database, schema=schema, identifier=identifier, type='table') -%}
    {%- do adapter.create_schema(output) -%}
    {#- Timed by the caller (make bench-identity) between this log line and the last. -#}
    {%- do log('cdp_connected_components_of: started', info=true) -%}
    {%- set result = cdp_connected_components('select node_key_a, node_key_b from ' ~ edges_table, output, max_rounds or var('cdp__identity_max_rounds')) -%}
    {%- do adapter.drop_relation(output) -%}
    {%- do adapter.rename_relation(result['relation'], output) -%}
    {%- do adapter.commit() -%}
    {%- do log('cdp_connected_components_of: ' ~ result['rounds'] ~ ' rounds', info=true) -%}
{%- endmacro %}
