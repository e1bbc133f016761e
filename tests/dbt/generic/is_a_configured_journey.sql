{#- A column holds only names of configured journeys (adding a journey needs no YAML edit). -#}
{% test is_a_configured_journey(model, column_name) %}
select {{ column_name }} as unknown_journey
from {{ model }}
where {{ column_name }} not in ({% for name in cdp_journey_names() %}'{{ name }}'{{ ', ' if not loop.last }}{% endfor %})
{% endtest %}
