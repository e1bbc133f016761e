{#
    Purchases with their person: the person identity gives the order or the receipt
    (int_identity_source_row_persons, the first identifier of cdp__identity_type_precedence
    the row carries: the CRM key and the loyalty card, which the retailer's own systems
    tie to a customer, decide before contact details typed at checkout or the till, and
    those before device-level ids).
#}

with purchases as (
    select * from {{ ref('int_purchases_collected') }}
),

order_persons as (
    {{ cdp_source_row_persons('stg_shop__orders') }}
),

receipt_persons as (
    {{ cdp_source_row_persons('stg_pos__transactions') }}
),

attributed as (
    select
        purchases.*,
        coalesce(order_persons.person_id, receipt_persons.person_id) as person_id
    from purchases
    left join order_persons on purchases.order_id = order_persons.source_key
    left join receipt_persons on purchases.receipt_id = receipt_persons.source_key
)

select * from attributed
