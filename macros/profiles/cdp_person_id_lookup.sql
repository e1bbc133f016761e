{#
    person_id for rows that carry several identifiers, from bdg_person_identifiers.
    `identifiers` is a list of (identifier_type, column) in order of trust: the first
    one that resolves decides (a CRM key over an e-mail typed at checkout, say).
    Returns a `select` of every column of `relation` plus person_id.
#}
{% macro cdp_person_id_lookup(relation, identifiers) -%}
    select
        {{ relation }}.*,
        coalesce(
            {%- for identifier_type, column in identifiers %}
            identifier_{{ loop.index }}.person_id{{ ',' if not loop.last }}
            {%- endfor %}
        ) as person_id
    from {{ relation }}
    {%- for identifier_type, column in identifiers %}
    left join {{ ref('bdg_person_identifiers') }} as identifier_{{ loop.index }}
        on identifier_{{ loop.index }}.identifier_type = '{{ identifier_type }}'
        and identifier_{{ loop.index }}.identifier_value = {{ relation }}.{{ column }}
    {%- endfor %}
{%- endmacro %}
