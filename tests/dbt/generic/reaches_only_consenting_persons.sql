{#
    A sync model may only carry persons who can receive marketing: not erased, and
    with marketing consent on the row's channel (message syncs, `channel` column) or on
    one of `channels` (state syncs). A failing row names the person and the reason.
#}
{% test reaches_only_consenting_persons(model, channels=none) %}
select
    synced.person_id,
    case when persons.person_id is null then 'unknown person' when persons.is_erased then 'erased' else 'no consent' end as reason
from {{ model }} as synced
left join {{ ref('dim_persons') }} as persons on persons.person_id = synced.person_id
where persons.person_id is null
    or persons.is_erased
    or not (
        {%- if channels %}
        {% for channel in channels %}persons.consent_{{ channel }}{{ ' or ' if not loop.last }}{% endfor %}
        {%- else %}
        case synced.channel
            {% for channel in cdp_message_channels() %}
            when '{{ channel }}' then persons.consent_{{ channel }}
            {% endfor %}
        end
        {%- endif %}
    )
{% endtest %}
