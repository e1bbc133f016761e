{#
    The last `weeks` calendar weeks up to cdp__as_of, one row each: week_start (Monday
    00:00), next_week_start, and measured_at, the moment a week's state is read at (the
    week's end, or cdp__as_of for the current week). Built from a numbers list so that
    it runs on any warehouse. The week offsets are parenthesised: dateadd macros paste
    the interval into an expression (Spark multiplies it by 7).
#}
{% macro cdp_report_weeks(weeks) -%}
    select
        week_start,
        next_week_start,
        case when next_week_start > {{ cdp_as_of() }} then {{ cdp_as_of() }} else next_week_start end as measured_at
    from (
        select
            {{ dbt.dateadd('week', '(-week_number)', dbt.date_trunc('week', cdp_as_of())) }} as week_start,
            {{ dbt.dateadd('week', '(1 - week_number)', dbt.date_trunc('week', cdp_as_of())) }} as next_week_start
        from (
            {% for week_number in range(weeks) -%}
            select {{ week_number }} as week_number{{ ' union all' if not loop.last }}
            {% endfor -%}
        ) as week_numbers
    ) as weeks
{%- endmacro %}
