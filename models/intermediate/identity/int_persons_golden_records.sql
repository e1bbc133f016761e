{#-
    Survivorship: for each attribute, among the values the person's identifiers carry,
    the one from the most trusted source (trust in var cdp__identity_sources), the most
    recent on a tie. The address is taken whole from one CRM record, never mixed.
-#}
{%- set crm_trust = (var('cdp__identity_sources') | selectattr('model', 'equalto', 'stg_crm__customers') | map(attribute='trust') | list + [100]) | first -%}
with persons as (
    select * from {{ ref('bdg_person_identifiers') }}
),

observations as (
    select * from {{ ref('int_identity_observations') }}
),

crm as (
    select c.*, p.person_id
    from {{ ref('stg_crm__customers') }} as c
    inner join persons as p
        on p.identifier_type = 'crm_customer_id'
        and p.identifier_value = c.crm_customer_id
),

contact_candidates as (
    select p.person_id, o.identifier_type as attribute, o.identifier_value as attribute_value, o.source_trust, o.observed_at
    from observations as o
    inner join persons as p
        on o.identifier_type = p.identifier_type
        and o.identifier_value = p.identifier_value
    where o.identifier_type in ('email', 'phone')
),

crm_candidates as (
    {%- for attribute in ['first_name', 'last_name', 'birth_date'] %}
    select person_id, '{{ attribute }}' as attribute, cast({{ attribute }} as {{ dbt.type_string() }}) as attribute_value, {{ crm_trust }} as source_trust, updated_at as observed_at
    from crm
    where {{ attribute }} is not null
    {{ 'union all' if not loop.last }}
    {%- endfor %}
),

candidates as (
    select * from contact_candidates
    union all
    select * from crm_candidates
),

survivors as (
    select person_id, attribute, attribute_value
    from (
        select
            *,
            row_number() over (
                partition by person_id, attribute
                order by source_trust desc, observed_at desc, attribute_value
            ) as survivor_rank
        from candidates
    ) as ranked
    where survivor_rank = 1
),

addresses as (
    select person_id, street, city, postal_code, country_code
    from (
        select
            *,
            row_number() over (partition by person_id order by updated_at desc, crm_customer_id) as address_rank
        from crm
        where street is not null or postal_code is not null
    ) as ranked
    where address_rank = 1
),

person_facts as (
    select
        person_id,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        count(*) as identifier_count,
        min(case when is_exact_links_only then 1 else 0 end) = 1 as is_exact_links_only
    from persons
    group by person_id
),

pivoted as (
    select
        person_id,
        max(case when attribute = 'email' then attribute_value end) as email,
        max(case when attribute = 'phone' then attribute_value end) as phone,
        max(case when attribute = 'first_name' then attribute_value end) as first_name,
        max(case when attribute = 'last_name' then attribute_value end) as last_name,
        max(case when attribute = 'birth_date' then attribute_value end) as birth_date_text
    from survivors
    group by person_id
)

select
    f.person_id,
    v.email,
    v.phone,
    v.first_name,
    v.last_name,
    cast(v.birth_date_text as date) as birth_date,
    a.street,
    a.city,
    a.postal_code,
    a.country_code,
    f.is_exact_links_only,
    f.identifier_count,
    f.first_seen_at,
    f.last_seen_at
from person_facts as f
left join pivoted as v on f.person_id = v.person_id
left join addresses as a on f.person_id = a.person_id
