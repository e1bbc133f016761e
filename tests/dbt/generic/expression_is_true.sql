{#
    Every row of the model satisfies `expression`; a failing row is returned whole.
    (dbt_utils has one like it; the package hub is not reachable, and this is all we
    need of it.)
#}
{% test expression_is_true(model, expression, column_name=none) %}
    select * from {{ model }} where not ({{ expression }})
{% endtest %}
