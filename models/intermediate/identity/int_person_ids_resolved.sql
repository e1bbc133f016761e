{#
    Every person id identity has ever issued, with the person it belongs to now. An id
    still in use resolves to itself; an id merged away (or left behind by a split)
    resolves to the person that now holds most of the identifiers it ever held, which
    follows chains of merges (A into B, later B into C) without recursion. Anything
    recorded against an old id (a message sent to it) is read through this.
#}

with assignment_log as (
    select * from {{ ref('int_identity_person_assignments') }}
),

current_assignments as (
    {{ cdp_current_assignments('assignment_log') }}
),

persons as (
    select distinct person_id from {{ ref('bdg_person_identifiers') }}
),

identifiers_held as (
    select distinct
        assignment_log.person_id as issued_person_id,
        assignment_log.node_key,
        current_assignments.person_id as current_person_id
    from assignment_log
    inner join current_assignments on assignment_log.node_key = current_assignments.node_key
    inner join persons on current_assignments.person_id = persons.person_id
),

candidates as (
    select
        issued_person_id,
        current_person_id,
        count(*) as shared_identifiers
    from identifiers_held
    group by issued_person_id, current_person_id
),

ranked as (
    select
        *,
        row_number() over (
            partition by issued_person_id
            order by
                case when issued_person_id = current_person_id then 0 else 1 end,
                shared_identifiers desc, current_person_id asc
        ) as resolution_rank
    from candidates
)

select
    issued_person_id,
    current_person_id,
    shared_identifiers,
    issued_person_id <> current_person_id as is_merged_away
from ranked
where resolution_rank = 1
