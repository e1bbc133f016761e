{#-
    A column holds only reasons of cdp_suppression_reasons(); with `status_column`, it
    holds one exactly when the row's status is suppressed.
-#}
{% test is_a_suppression_reason(model, column_name, status_column=none) %}
select {{ column_name }} as reason
from {{ model }}
where ({{ column_name }} is not null and {{ column_name }} not in (
        {%- for reason in cdp_suppression_reasons() %}'{{ reason }}'{{ ', ' if not loop.last }}{% endfor %}))
    {%- if status_column %}
    or (({{ status_column }} = 'suppressed') <> ({{ column_name }} is not null))
    {%- endif %}
{% endtest %}
