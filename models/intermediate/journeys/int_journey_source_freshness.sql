{#
    How fresh each raw table a journey may depend on is (var cdp__source_freshness):
    the newest timestamp its staging model holds up to cdp__as_of, and whether that is
    older than the table's allowed lag. A journey that depends on a stale table does not
    run (its messages are suppressed stale_source): if the store receipts are three days
    late, a cart coupon could go to someone who bought the product in a store. A table
    with no rows at all is stale too; a max_lag_hours of null is never stale.
#}
{%- set sources = var('cdp__source_freshness') %}

with newest as (
    {% for source_table, freshness in sources.items() %}
        select
            '{{ source_table }}' as source_table,
            max({{ freshness.timestamp }}) as newest_at
        from {{ ref(freshness.model) }}
        where {{ freshness.timestamp }} <= {{ cdp_as_of() }}
        {{ 'union all' if not loop.last }}
    {% endfor %}
),

checked as (
    select
        source_table,
        newest_at,
        case source_table
            {% for source_table, freshness in sources.items() %}
                {%- set max_lag = freshness.max_lag_hours if freshness.max_lag_hours is not none
                    else 'cast(null as ' ~ dbt.type_int() ~ ')' %}
                when '{{ source_table }}' then {{ max_lag }}
            {% endfor %}
        end as max_lag_hours,
        {{ cdp_minutes_between('newest_at', cdp_as_of()) }} / 60.0 as lag_hours
    from newest
),

reasoned as (
    select
        *,
        case
            when max_lag_hours is null then cast(null as {{ dbt.type_string() }})
            when newest_at is null then 'no_rows'
            when lag_hours > max_lag_hours then 'lagging'
        end as stale_reason
    from checked
),

final as (
    select
        source_table,
        newest_at,
        max_lag_hours,
        lag_hours,
        stale_reason is not null as is_stale,
        stale_reason
    from reasoned
)

select * from final
