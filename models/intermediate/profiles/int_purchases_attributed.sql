{#
    Purchases with their person. The CRM key and the loyalty card are what the
    retailer's own systems tie to a customer, so they decide before contact details
    typed at checkout or the till, and those before device-level ids.
#}

with purchases as (
    select * from {{ ref('int_purchases_collected') }}
),

attributed as (
    {{ cdp_person_id_lookup('purchases', [
        ('crm_customer_id', 'crm_customer_id'),
        ('loyalty_card_id', 'loyalty_card_id'),
        ('email', 'email'),
        ('phone', 'phone'),
        ('payment_fingerprint', 'payment_fingerprint'),
        ('anonymous_id', 'anonymous_id'),
    ]) }}
)

select * from attributed
