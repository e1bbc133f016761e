{#
    The lifecycle stage of a person at moment `at`, from their purchases up to then:
    prospect (never bought), new, won_back, active, at_risk, lapsed. The one definition
    used by dim_persons (at cdp__as_of) and by the weekly lifecycle report (at each
    week's end); the day counts are cdp__lifecycle_* vars.
#}
{% macro cdp_lifecycle_stage(first_purchase_at, last_purchase_at, previous_purchase_at, at) -%}
    case
        when {{ last_purchase_at }} is null then 'prospect'
        when {{ first_purchase_at }} > {{ dbt.dateadd('day', -var('cdp__lifecycle_new_days'), at) }} then 'new'
        when {{ previous_purchase_at }} < {{ dbt.dateadd('day', -var('cdp__lifecycle_lapsed_days'), last_purchase_at) }}
            and {{ last_purchase_at }} > {{ dbt.dateadd('day', -var('cdp__lifecycle_won_back_days'), at) }} then 'won_back'
        when {{ last_purchase_at }} > {{ dbt.dateadd('day', -var('cdp__lifecycle_active_days'), at) }} then 'active'
        when {{ last_purchase_at }} > {{ dbt.dateadd('day', -var('cdp__lifecycle_lapsed_days'), at) }} then 'at_risk'
        else 'lapsed'
    end
{%- endmacro %}
