{#
    A deterministic string key from several columns: md5 of the values joined with a
    separator, nulls written as a marker so that (null, 'a') and ('', 'a') differ.
#}
{% macro cdp_surrogate_key(columns) -%}
    {%- set fields = [] -%}
    {%- for column in columns -%}
        {%- if not loop.first -%}{%- do fields.append("'|'") -%}{%- endif -%}
        {%- do fields.append("coalesce(cast(" ~ column ~ " as " ~ dbt.type_string() ~ "), '_cdp_null_')") -%}
    {%- endfor -%}
    {{ dbt.hash(dbt.concat(fields)) }}
{%- endmacro %}
