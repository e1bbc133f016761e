{#
    The probabilistic matching model of the latest build, typed: for each comparison level
    its m and u probabilities, whether each was estimated on the CRM or taken from the
    prior, and the sample it was estimated on.
#}

with model_levels as (
    select * from {{ source('cdp_linkage', 'identity_match_model') }}
),

typed as (
    select
        cast(comparison_name as {{ dbt.type_string() }}) as comparison_name,
        cast(comparison_level as {{ dbt.type_int() }}) as comparison_level,
        cast(level_label as {{ dbt.type_string() }}) as level_label,
        cast(is_null_level as {{ dbt.type_boolean() }}) as is_null_level,
        cast(has_term_frequency_adjustment as {{ dbt.type_boolean() }}) as has_term_frequency_adjustment,
        cast(m_probability as {{ cdp_type_double() }}) as m_probability,
        cast(m_source as {{ dbt.type_string() }}) as m_source,
        cast(u_probability as {{ cdp_type_double() }}) as u_probability,
        cast(u_source as {{ dbt.type_string() }}) as u_source,
        cast(match_weight as {{ cdp_type_double() }}) as match_weight,
        cast(probability_two_random_records_match as {{ cdp_type_double() }}) as probability_two_random_records_match,
        cast(probability_source as {{ dbt.type_string() }}) as probability_source,
        cast(fit_status as {{ dbt.type_string() }}) as fit_status,
        cast(fit_status_reason as {{ dbt.type_string() }}) as fit_status_reason,
        cast(record_count as {{ dbt.type_int() }}) as record_count,
        cast(u_sample_pairs as {{ dbt.type_bigint() }}) as u_sample_pairs,
        cast(em_training_runs as {{ dbt.type_int() }}) as em_training_runs,
        cast(fitted_at as {{ dbt.type_timestamp() }}) as fitted_at
    from model_levels
),

keyed as (
    select
        {{ cdp_surrogate_key(['comparison_name', 'comparison_level']) }} as model_level_key,
        typed.*
    from typed
)

select * from keyed
