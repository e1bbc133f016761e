{#
    Generic data test: every row of the model satisfies `expression` (no dbt_utils here:
    the package hub is not reachable, and this is all we need of it).
#}
{% test cdp_expression_is_true(model, expression, column_name=none) %}
    select * from {{ model }} where not ({{ expression }})
{% endtest %}
