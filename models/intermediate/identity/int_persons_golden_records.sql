{#-
    Survivorship: for each attribute, among the values the person's identifiers carry,
    the one from the most trusted source (trust in var cdp__identity_sources), the most
    recent on a tie. The address is taken whole from one CRM record, never mixed.
-#}
{%- set crm_trust = (
    var('cdp__identity_sources') | selectattr('model', 'equalto', 'stg_crm__customers') | map(attribute='trust') | list
    + [100]
) | first -%}
with persons as (
    select * from {{ ref('bdg_person_identifiers') }}
),

observations as (
    select * from {{ ref('int_identity_observations') }}
),

crm as (
    select
        stg_crm__customers.*,
        persons.person_id
    from {{ ref('stg_crm__customers') }} as stg_crm__customers
    inner join persons
        on persons.identifier_type = 'crm_customer_id'
        and stg_crm__customers.crm_customer_id = persons.identifier_value
),

contact_candidates as (
    select
        persons.person_id,
        observations.identifier_type as attribute,
        observations.identifier_value as attribute_value,
        observations.source_trust,
        observations.observed_at
    from observations
    inner join persons
        on observations.identifier_type = persons.identifier_type
        and observations.identifier_value = persons.identifier_value
    where observations.identifier_type in ('email', 'phone')
),

crm_candidates as (
    {%- for attribute in ['first_name', 'last_name', 'birth_date'] %}
        select
            person_id,
            '{{ attribute }}' as attribute,
            cast({{ attribute }} as {{ dbt.type_string() }}) as attribute_value,
            {{ crm_trust }} as source_trust,
            updated_at as observed_at
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
    select
        person_id,
        attribute,
        attribute_value
    from (
        select
            *,
            row_number() over (
                partition by person_id, attribute
                order by source_trust desc, observed_at desc, attribute_value asc
            ) as survivor_rank
        from candidates
    ) as ranked
    where survivor_rank = 1
),

addresses as (
    select
        person_id,
        street,
        city,
        postal_code,
        country_code
    from (
        select
            *,
            row_number() over (partition by person_id order by updated_at desc, crm_customer_id asc) as address_rank
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
    person_facts.person_id,
    pivoted.email,
    pivoted.phone,
    pivoted.first_name,
    pivoted.last_name,
    cast(pivoted.birth_date_text as date) as birth_date,
    addresses.street,
    addresses.city,
    addresses.postal_code,
    addresses.country_code,
    person_facts.is_exact_links_only,
    person_facts.identifier_count,
    person_facts.first_seen_at,
    person_facts.last_seen_at
from person_facts
left join pivoted on person_facts.person_id = pivoted.person_id
left join addresses on person_facts.person_id = addresses.person_id
