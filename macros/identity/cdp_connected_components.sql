{#
    Connected components of an undirected graph given as an edge list, in portable SQL.

    edges_sql: a select with text columns node_key_a, node_key_b (one row per edge).
    work: a relation whose database/schema/identifier prefix the work tables use.
    Returns {'relation': <node_key, component_key>, 'rounds': n}.

    1. Every node key is encoded to an integer, numbered in the order of a hash of the key:
       joins on integers are several times faster than on text, and hash order makes the
       numbering unrelated to how ids were issued (a chain of ids that increase along
       the chain is no worse than any other graph).
    2. Pendant nodes (one neighbour: most cookies, devices, payment cards) are set aside
       and take their neighbour's component at the end; only the core (nodes with two or
       more neighbours) is iterated. A pair of pendants linked to each other is a
       component of its own.
    3. Labels are iterated on the core as in FastSV (Zhang, Azad and Hu, 2020): each node
       points at a parent (initially itself); each round every node and every parent
       takes the smallest grandparent seen across its edges, then nodes jump to their
       grandparent. Hooking whole trees and jumping halves path lengths, so the number of
       rounds grows with the logarithm of the path length, not with the path length.
       Round 1, where every parent is the node itself, is "hook onto the smallest
       neighbour" and is computed as such.
    4. A component whose nodes all point at one root whose neighbours all point there too
       is final (nothing outside links to it, nothing inside can change): as in LACC
       (Azad and Buluç, 2019) its nodes leave the iteration, and once they make up a
       tenth of what is left, their edges are dropped from the edge table. Most persons
       are final after two or three rounds; later rounds only touch the few large ones.
    5. The loop stops when no parent changes. At that point every node points at the
       smallest core node of its component. More than `max_rounds` rounds is an error: it
       means a bug or a graph far outside what the algorithm is meant for, and a build
       that silently used half-resolved components would be worse.
#}
{% macro cdp_connected_components(edges_sql, work, max_rounds) -%}
    {%- set rel = {} -%}
    {%- for name in ['nodes', 'links', 'degrees', 'edges', 'pendants', 'parents', 'next', 'kept_edges', 'result'] -%}
        {%- do rel.update({name: api.Relation.create(database=work.database, schema=work.schema, identifier=work.identifier ~ '__cc_' ~ name, type='table')}) -%}
    {%- endfor -%}

    {%- do cdp_cc_create(rel['nodes'], cdp_cc_encode_sql(edges_sql)) -%}
    {%- do cdp_cc_create(rel['links'], cdp_cc_links_sql(edges_sql, rel['nodes'])) -%}
    {%- do cdp_cc_create(rel['degrees'], cdp_cc_degrees_sql(rel['links'])) -%}
    {%- do cdp_cc_create(rel['edges'], cdp_cc_core_edges_sql(rel['links'], rel['degrees'])) -%}
    {%- do cdp_cc_create(rel['pendants'], cdp_cc_pendants_sql(rel['links'], rel['degrees'])) -%}
    {#- Nodes of final components, one table per round: inserting them into one table created empty in the same transaction loses rows on DuckDB 2.0. -#}
    {%- set finals = [] -%}

    {%- set state = namespace(rounds=0, converged=false) -%}
    {%- for round in range(1, max_rounds + 1) if not state.converged -%}
        {%- if round == 1 -%}
            {%- do cdp_cc_create(rel['next'], cdp_cc_first_round_sql(rel['degrees'], rel['edges'])) -%}
        {%- else -%}
            {%- do cdp_cc_create(rel['next'], cdp_cc_round_sql(rel['edges'], rel['parents'])) -%}
        {%- endif -%}
        {%- set counts = run_query(
            'select sum(is_changed), sum(is_final), count(*) from ' ~ rel['next']
        ).rows[0] -%}
        {%- set changed, finished, active = counts[0] or 0, counts[1] or 0, counts[2] -%}
        {%- do adapter.drop_relation(rel['parents']) -%}
        {%- if finished > 0 -%}
            {%- set final = api.Relation.create(database=work.database, schema=work.schema, identifier=work.identifier ~ '__cc_final_' ~ round, type='table') -%}
            {%- do finals.append(final) -%}
            {%- do cdp_cc_create(final, 'select node_id, parent_id from ' ~ rel['next'] ~ ' where is_final = 1') -%}
            {%- do cdp_cc_create(rel['parents'], 'select node_id, parent_id from ' ~ rel['next'] ~ ' where is_final = 0') -%}
            {%- do adapter.drop_relation(rel['next']) -%}
            {#- Edges of final nodes no longer join anything; dropping them costs a pass over the edge table, worth it once they are a tenth of it. -#}
            {%- if finished * 10 >= active and changed > 0 -%}
                {%- do cdp_cc_create(rel['kept_edges'],
                    'select node_id, neighbour_id from ' ~ rel['edges'] ~ ' where node_id in (select node_id from ' ~ rel['parents'] ~ ')') -%}
                {%- do adapter.drop_relation(rel['edges']) -%}
                {%- do adapter.rename_relation(rel['kept_edges'], rel['edges']) -%}
            {%- endif -%}
        {%- else -%}
            {%- do adapter.rename_relation(rel['next'], rel['parents']) -%}
        {%- endif -%}
        {%- set state.rounds = round -%}
        {%- do log('connected components ' ~ work.identifier ~ ': round ' ~ round ~ ', ' ~ changed ~ ' labels changed, '
            ~ finished ~ ' of ' ~ active ~ ' nodes final', info=true) -%}
        {%- if changed == 0 -%}
            {%- set state.converged = true -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not state.converged -%}
        {{ exceptions.raise_compiler_error(
            'connected components for ' ~ work.identifier ~ ' did not converge in ' ~ max_rounds
            ~ ' rounds (var cdp__identity_max_rounds); the graph is far outside what the algorithm expects, or there is a bug'
        ) }}
    {%- endif -%}

    {%- do cdp_cc_create(rel['result'], cdp_cc_result_sql(rel['nodes'], rel['pendants'], finals + [rel['parents']])) -%}
    {%- for relation in finals + [rel['nodes'], rel['links'], rel['degrees'], rel['edges'], rel['pendants'], rel['parents']] -%}
        {%- do adapter.drop_relation(relation) -%}
    {%- endfor -%}
    {{ return({'relation': rel['result'], 'rounds': state.rounds}) }}
{%- endmacro %}

{% macro cdp_cc_create(relation, sql) -%}
    {%- do adapter.drop_relation(relation) -%}
    {%- call statement('cdp_cc_' ~ relation.identifier) -%}
        {{ get_create_table_as_sql(False, relation, sql) }}
    {%- endcall -%}
{%- endmacro %}

{#- The smaller of two integer expressions; `second` may be null (`first` may not). Spelled as `case` because `least` is not in every warehouse. -#}
{% macro cdp_cc_smaller(first, second) -%}
    case when {{ second }} < {{ first }} then {{ second }} else {{ first }} end
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

{#- Every edge once, as integers (smaller id first), without self-loops or repeats. -#}
{% macro cdp_cc_links_sql(edges_sql, nodes) -%}
    with edge_list as (
        {{ edges_sql }}
    ),

    encoded as (
        select node_a.node_id as id_a, node_b.node_id as id_b
        from edge_list
        inner join {{ nodes }} as node_a on edge_list.node_key_a = node_a.node_key
        inner join {{ nodes }} as node_b on edge_list.node_key_b = node_b.node_key
        where node_a.node_id <> node_b.node_id
    )

    select distinct
        {{ cdp_cc_smaller('id_a', 'id_b') }} as id_a,
        case when id_a < id_b then id_b else id_a end as id_b
    from encoded
{%- endmacro %}

{% macro cdp_cc_degrees_sql(links) -%}
    select node_id, count(*) as degree
    from (
        select id_a as node_id from {{ links }}
        union all
        select id_b as node_id from {{ links }}
    ) as ends
    group by node_id
{%- endmacro %}

{#- Both directions of every link between two nodes of the core (two or more neighbours each). -#}
{% macro cdp_cc_core_edges_sql(links, degrees) -%}
    with core_links as (
        select links.id_a, links.id_b
        from {{ links }} as links
        inner join {{ degrees }} as degrees_a on links.id_a = degrees_a.node_id
        inner join {{ degrees }} as degrees_b on links.id_b = degrees_b.node_id
        where degrees_a.degree > 1 and degrees_b.degree > 1
    )

    select id_a as node_id, id_b as neighbour_id from core_links
    union all
    select id_b as node_id, id_a as neighbour_id from core_links
{%- endmacro %}

{#- Each pendant node (one neighbour) with that neighbour, its anchor. -#}
{% macro cdp_cc_pendants_sql(links, degrees) -%}
    select links.id_a as node_id, links.id_b as anchor_id
    from {{ links }} as links
    inner join {{ degrees }} as degrees_a on links.id_a = degrees_a.node_id
    where degrees_a.degree = 1
    union all
    select links.id_b as node_id, links.id_a as anchor_id
    from {{ links }} as links
    inner join {{ degrees }} as degrees_b on links.id_b = degrees_b.node_id
    where degrees_b.degree = 1
{%- endmacro %}

{#- Round 1: every parent is the node itself, so hooking onto the smallest grandparent is hooking onto the smallest neighbour. -#}
{% macro cdp_cc_first_round_sql(degrees, edges) -%}
    with smallest_neighbours as (
        select node_id, min(neighbour_id) as neighbour_id
        from {{ edges }}
        group by node_id
    )

    select
        degrees.node_id,
        {{ cdp_cc_smaller('degrees.node_id', 'smallest_neighbours.neighbour_id') }} as parent_id,
        case when smallest_neighbours.neighbour_id < degrees.node_id then 1 else 0 end as is_changed,
        0 as is_final
    from {{ degrees }} as degrees
    left join smallest_neighbours on degrees.node_id = smallest_neighbours.node_id
    where degrees.degree > 1
{%- endmacro %}

{#-
    One round: hook nodes and their parents to the smallest grandparent across their
    edges, then jump; and tell which nodes are in a final component (see point 4 above),
    judged on the parents the round starts from, which the round leaves unchanged for them.
-#}
{% macro cdp_cc_round_sql(edges, parents) -%}
    with grandparents as (
        select nodes.node_id, nodes.parent_id, parents.parent_id as grandparent_id
        from {{ parents }} as nodes
        inner join {{ parents }} as parents on nodes.parent_id = parents.node_id
    ),

    neighbourhoods as (
        select
            edges.node_id,
            min(grandparents.grandparent_id) as smallest_grandparent_id,
            min(grandparents.parent_id) as smallest_parent_id,
            max(grandparents.parent_id) as largest_parent_id
        from {{ edges }} as edges
        inner join grandparents on edges.neighbour_id = grandparents.node_id
        group by edges.node_id
    ),

    -- the node's parent (its whole tree) hooks where the node would
    hooks as (
        select grandparents.parent_id as node_id, min(neighbourhoods.smallest_grandparent_id) as hook_id
        from grandparents
        inner join neighbourhoods on grandparents.node_id = neighbourhoods.node_id
        group by grandparents.parent_id
    ),

    steps as (
        select
            grandparents.node_id,
            grandparents.parent_id,
            grandparents.grandparent_id,
            {{ cdp_cc_smaller(
                cdp_cc_smaller('grandparents.grandparent_id', 'neighbourhoods.smallest_grandparent_id'),
                'hooks.hook_id'
            ) }} as next_parent_id,
            -- points at a root, and so do all its neighbours
            case
                when grandparents.parent_id = grandparents.grandparent_id
                    and (
                        neighbourhoods.node_id is null
                        or (
                            neighbourhoods.smallest_parent_id = grandparents.parent_id
                            and neighbourhoods.largest_parent_id = grandparents.parent_id
                        )
                    )
                    then 1
                else 0
            end as is_star_member
        from grandparents
        left join neighbourhoods on grandparents.node_id = neighbourhoods.node_id
        left join hooks on grandparents.node_id = hooks.node_id
    )

    select
        node_id,
        next_parent_id as parent_id,
        case when next_parent_id <> parent_id then 1 else 0 end as is_changed,
        -- every node of the tree is such a star member: the tree is a whole component, and final
        min(is_star_member) over (partition by grandparent_id) as is_final
    from steps
{%- endmacro %}

{#- Every node with its component: core nodes their root, pendants their anchor's (a pendant pair the smaller id), keyed by the component's first node in hash order. -#}
{% macro cdp_cc_result_sql(nodes, pendants, core_parents) -%}
    with core_labels as (
        {%- for parents in core_parents %}
        select node_id, parent_id as label_id from {{ parents }}
        {%- if not loop.last %}
        union all
        {%- endif -%}
        {%- endfor %}
    ),

    labels as (
        select
            nodes.node_id,
            nodes.node_key,
            coalesce(
                own_labels.label_id,
                anchor_labels.label_id,
                {{ cdp_cc_smaller('nodes.node_id', 'pendants.anchor_id') }}
            ) as label_id
        from {{ nodes }} as nodes
        left join core_labels as own_labels on nodes.node_id = own_labels.node_id
        left join {{ pendants }} as pendants on nodes.node_id = pendants.node_id
        left join core_labels as anchor_labels on pendants.anchor_id = anchor_labels.node_id
    ),

    firsts as (
        select label_id, min(node_id) as first_id
        from labels
        group by label_id
    )

    select labels.node_key, first_nodes.node_key as component_key
    from labels
    inner join firsts on labels.label_id = firsts.label_id
    inner join {{ nodes }} as first_nodes on firsts.first_id = first_nodes.node_id
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
