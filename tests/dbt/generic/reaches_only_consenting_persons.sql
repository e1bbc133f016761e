{#
    A sync model may only carry persons who can receive its messages: not erased, and
    with consent on the row's channel for the message's purpose (message syncs:
    `channel` and `purpose` columns; transactional consent for transactional messages,
    marketing consent otherwise) or marketing consent on one of `channels` (state
    syncs). A failing row names the person and the reason.
#}
{% test reaches_only_consenting_persons(model, channels=none) %}
select
    synced.person_id,
    case
        when persons.person_id is null then 'unknown person'
        when persons.is_erased then 'erased'
        else 'no consent'
    end as reason
from {{ model }} as synced
left join {{ ref('dim_persons') }} as persons on synced.person_id = persons.person_id
where persons.person_id is null
    or persons.is_erased
    or not (
        {%- if channels %}
        {{ cdp_has_consent_on(channels, 'persons') }}
        {%- else %}
        case
            when synced.purpose = 'transactional' then {{ cdp_consent_for_channel('synced.channel', 'persons', 'transactional') }}
            else {{ cdp_consent_for_channel('synced.channel', 'persons') }}
        end
        {%- endif %}
    )
{% endtest %}
