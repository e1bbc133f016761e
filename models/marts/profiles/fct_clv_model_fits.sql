{#
    The CLV step's fitted parameters, typed, for anyone checking what the predictions
    in dim_persons rest on.
#}

with fits as (
    select * from {{ source('cdp_clv', 'clv_model_fits') }}
),

typed as (
    select
        cast(model as {{ dbt.type_string() }}) as model,
        cast(parameter as {{ dbt.type_string() }}) as parameter,
        cast(value as {{ cdp_type_double() }}) as parameter_value,
        cast(status as {{ dbt.type_string() }}) as fit_status,
        cast(status_reason as {{ dbt.type_string() }}) as fit_status_reason,
        cast(log_likelihood as {{ cdp_type_double() }}) as log_likelihood,
        cast(sample_size as {{ dbt.type_int() }}) as sample_size,
        cast(time_unit_days as {{ cdp_type_double() }}) as time_unit_days,
        cast(horizon_days as {{ cdp_type_double() }}) as horizon_days,
        cast(as_of as {{ dbt.type_timestamp() }}) as fitted_as_of,
        cast(fitted_at as {{ dbt.type_timestamp() }}) as fitted_at
    from fits
)

select
    {{ cdp_surrogate_key(['model', 'parameter']) }} as model_parameter_key,
    *
from typed
