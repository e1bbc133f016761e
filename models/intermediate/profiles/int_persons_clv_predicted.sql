{#
    The CLV step's per-person output, typed. Before the first fit the source is an
    empty text table, hence the casts.
#}

with predictions as (
    select * from {{ source('cdp_clv', 'clv_person_predictions') }}
),

typed as (
    select
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast(expected_purchases as {{ cdp_type_double() }}) as expected_purchases_12m,
        cast(probability_alive as {{ cdp_type_double() }}) as probability_alive,
        cast(churn_probability as {{ cdp_type_double() }}) as churn_probability,
        cast(expected_average_spend as {{ cdp_type_double() }}) as expected_average_spend,
        cast(predicted_clv as {{ cdp_type_double() }}) as predicted_clv_12m,
        cast(fitted_at as {{ dbt.type_timestamp() }}) as clv_fitted_at
    from predictions
)

select * from typed
