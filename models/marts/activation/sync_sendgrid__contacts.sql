{#- SendGrid's marketing list: persons not erased with e-mail marketing consent and an address. -#}

with persons as (
    select * from {{ ref('dim_persons') }}
),

contacts as (
    select
        person_id,
        email,
        first_name,
        last_name,
        city,
        postal_code,
        country_code as country,
        loyalty_tier,
        lifecycle_stage
    from persons
    where not is_erased and consent_email and email is not null
)

select * from contacts
