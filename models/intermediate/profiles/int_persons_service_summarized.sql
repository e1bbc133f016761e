{#
    Support and survey signals per person: open tickets (open or pending) and the NPS
    class of the latest survey answer. A ticket's or an answer's person is the one
    identity gives the row (int_identity_source_row_persons).
#}

with tickets as (
    select * from {{ ref('stg_support__tickets') }}
),

responses as (
    select * from {{ ref('stg_surveys__responses') }}
),

ticket_persons as (
    {{ cdp_source_row_persons('stg_support__tickets') }}
),

response_persons as (
    {{ cdp_source_row_persons('stg_surveys__responses') }}
),

tickets_attributed as (
    select
        tickets.*,
        ticket_persons.person_id
    from tickets
    left join ticket_persons on tickets.ticket_id = ticket_persons.source_key
),

responses_attributed as (
    select
        responses.*,
        response_persons.person_id
    from responses
    left join response_persons on responses.survey_response_id = response_persons.source_key
),

ticket_counts as (
    select
        person_id,
        sum(case when ticket_status in ('open', 'pending') then 1 else 0 end) as open_support_tickets,
        max(case when ticket_status in ('open', 'pending') then opened_at end) as last_open_ticket_at
    from tickets_attributed
    where person_id is not null
    group by person_id
),

latest_response as (
    select
        person_id,
        nps_score,
        responded_at
    from (
        select
            *,
            row_number()
                over (partition by person_id order by responded_at desc, survey_response_id desc)
                as recency_rank
        from responses_attributed
        where person_id is not null and nps_score is not null
    ) as ranked
    where recency_rank = 1
),

persons as (
    select person_id from ticket_counts
    union
    select person_id from latest_response
)

select
    persons.person_id,
    coalesce(ticket_counts.open_support_tickets, 0) as open_support_tickets,
    ticket_counts.last_open_ticket_at,
    latest_response.nps_score,
    latest_response.responded_at as nps_responded_at,
    case
        when latest_response.nps_score >= {{ var('cdp__nps_promoter_min_score') }} then 'promoter'
        when latest_response.nps_score >= {{ var('cdp__nps_passive_min_score') }} then 'passive'
        when latest_response.nps_score is not null then 'detractor'
    end as nps_class
from persons
left join ticket_counts on persons.person_id = ticket_counts.person_id
left join latest_response on persons.person_id = latest_response.person_id
