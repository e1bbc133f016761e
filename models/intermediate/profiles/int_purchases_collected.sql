{{
    config(
        materialized='incremental',
        unique_key='purchase_id',
        on_schema_change='append_new_columns',
    )
}}

{#
    Online orders and store sale receipts in one shape, with every identifier they
    carry; person_id is resolved downstream. Cancelled orders stay here (flagged) so
    that an order cancelled after an incremental run replaces its earlier row.

    An incremental run re-reads the lookback window (rows there may have changed) and
    every purchase it has not loaded yet, whatever its date: a back-dated order that
    lands late must not be skipped for being older than the window.
#}

{% set reread_from -%}
    (
        select {{ dbt.dateadd('day', -var('cdp__profiles_purchases_lookback_days'),
                              "coalesce(max(purchased_at), cast('1900-01-01' as " ~ dbt.type_timestamp() ~ "))") }}
        from {{ this }}
    )
{%- endset %}

with orders as (
    select * from {{ ref('stg_shop__orders') }}
    {% if is_incremental() %}
        where
            ordered_at >= {{ reread_from }}
            or {{ dbt.concat(["'order-'", 'order_id']) }} not in (select purchase_id from {{ this }})
    {% endif %}
),

store_sales as (
    select * from {{ ref('stg_pos__transactions') }}
    where transaction_type = 'sale'
    {% if is_incremental() %}
        and (
            transacted_at >= {{ reread_from }}
            or {{ dbt.concat(["'receipt-'", 'receipt_id']) }} not in (select purchase_id from {{ this }})
        )
    {% endif %}
),

online_purchases as (
    select
        {{ dbt.concat(["'order-'", 'order_id']) }} as purchase_id,
        channel,
        ordered_at as purchased_at,
        order_id,
        cast(null as {{ dbt.type_string() }}) as receipt_id,
        currency,
        total_amount as gross_amount,
        order_status = 'cancelled' as is_cancelled,
        order_status = 'returned' as is_returned_online,
        crm_customer_id,
        cast(null as {{ dbt.type_string() }}) as loyalty_card_id,
        email,
        phone,
        anonymous_id,
        cast(null as {{ dbt.type_string() }}) as payment_fingerprint
    from orders
),

store_purchases as (
    select
        {{ dbt.concat(["'receipt-'", 'receipt_id']) }} as purchase_id,
        'store' as channel,
        transacted_at as purchased_at,
        cast(null as {{ dbt.type_string() }}) as order_id,
        receipt_id,
        currency,
        total_amount as gross_amount,
        false as is_cancelled,
        false as is_returned_online,
        cast(null as {{ dbt.type_string() }}) as crm_customer_id,
        loyalty_card_id,
        email,
        phone,
        cast(null as {{ dbt.type_string() }}) as anonymous_id,
        payment_fingerprint
    from store_sales
),

unioned as (
    select * from online_purchases
    union all
    select * from store_purchases
)

select * from unioned
