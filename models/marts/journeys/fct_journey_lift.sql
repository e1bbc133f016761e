{#
    The lift step's figures (cdp/lift.py), typed: per journey, treated against held-out
    persons, and the promotional journeys together against the global control group.
#}

with lift as (
    select * from {{ source('cdp_lift', 'journey_lift') }}
),

typed as (
    select
        cast(comparison as {{ dbt.type_string() }}) as comparison,
        cast(journey as {{ dbt.type_string() }}) as journey,
        cast(status as {{ dbt.type_string() }}) as status,
        cast(status_reason as {{ dbt.type_string() }}) as status_reason,
        cast(attribution_days as {{ dbt.type_int() }}) as attribution_days,
        cast(expected_held_out_share as {{ cdp_type_double() }}) as expected_held_out_share,
        cast(treated_persons as {{ dbt.type_int() }}) as treated_persons,
        cast(held_out_persons as {{ dbt.type_int() }}) as held_out_persons,
        cast(both_sides_persons as {{ dbt.type_int() }}) as both_sides_persons,
        cast(treated_measured_persons as {{ dbt.type_int() }}) as treated_measured_persons,
        cast(held_out_measured_persons as {{ dbt.type_int() }}) as held_out_measured_persons,
        cast(treated_conversions as {{ dbt.type_int() }}) as treated_conversions,
        cast(held_out_conversions as {{ dbt.type_int() }}) as held_out_conversions,
        cast(treated_conversion_rate as {{ cdp_type_double() }}) as treated_conversion_rate,
        cast(held_out_conversion_rate as {{ cdp_type_double() }}) as held_out_conversion_rate,
        cast(conversion_rate_difference as {{ cdp_type_double() }}) as conversion_rate_difference,
        cast(conversion_rate_difference_lower as {{ cdp_type_double() }}) as conversion_rate_difference_lower,
        cast(conversion_rate_difference_upper as {{ cdp_type_double() }}) as conversion_rate_difference_upper,
        cast(conversion_rate_difference_p_value as {{ cdp_type_double() }}) as conversion_rate_difference_p_value,
        cast(treated_revenue_per_person as {{ cdp_type_double() }}) as treated_revenue_per_person,
        cast(held_out_revenue_per_person as {{ cdp_type_double() }}) as held_out_revenue_per_person,
        cast(revenue_per_person_difference as {{ cdp_type_double() }}) as revenue_per_person_difference,
        cast(revenue_per_person_difference_lower as {{ cdp_type_double() }}) as revenue_per_person_difference_lower,
        cast(revenue_per_person_difference_upper as {{ cdp_type_double() }}) as revenue_per_person_difference_upper,
        cast(revenue_per_person_difference_p_value as {{ cdp_type_double() }}) as revenue_per_person_difference_p_value,
        cast(sample_ratio_p_value as {{ cdp_type_double() }}) as sample_ratio_p_value,
        cast(has_sample_ratio_mismatch as {{ dbt.type_boolean() }}) as has_sample_ratio_mismatch,
        cast(as_of as {{ dbt.type_timestamp() }}) as measured_as_of,
        cast(computed_at as {{ dbt.type_timestamp() }}) as computed_at
    from lift
),

final as (
    select
        {{ cdp_surrogate_key(['comparison', 'journey']) }} as journey_lift_key,
        *
    from typed
)

select * from final
