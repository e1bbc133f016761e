{#
    The distinct values of `expression` in a group, sorted and joined with `delimiter`:
    the same text on every warehouse, so that a synced field does not look changed
    because the warehouse aggregated in another order (dbt.listagg cannot order on Spark).
#}
{% macro cdp_sorted_string_agg(expression, delimiter) -%}
    {{ return(adapter.dispatch('cdp_sorted_string_agg', 'cdp')(expression, delimiter)) }}
{%- endmacro %}

{#- string_agg drops nulls, so where they would sort changes nothing; saying `nulls first`
    (the default of most warehouses) keeps the SQL transpilable as it is. -#}
{% macro default__cdp_sorted_string_agg(expression, delimiter) -%}
    string_agg(distinct {{ expression }}, '{{ delimiter }}' order by {{ expression }} nulls first)
{%- endmacro %}

{% macro spark__cdp_sorted_string_agg(expression, delimiter) -%}
    array_join(array_sort(collect_set({{ expression }})), '{{ delimiter }}')
{%- endmacro %}
