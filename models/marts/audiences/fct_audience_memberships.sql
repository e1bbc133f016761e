{#
    Who is in which audience now, and since when: the open spells of the membership log
    (int_audience_membership_log), so that entered_at is when the person entered and
    stays so while they remain. Audiences themselves are aud_ models in this folder and
    entries of audiences.yml; the audience step of `cdp build` collects them
    (cdp/audiences.py), so nothing here lists them.

    Audiences describe behaviour only. Consent, erasure and open support tickets are
    applied where a message is planned (fct_message_plan) or a person is synced (sync_*
    models), so that every exclusion can be explained there.
#}

with membership_log as (
    select * from {{ ref('int_audience_membership_log') }}
),

entries as (
    select * from membership_log
    where change = 'entered'
),

exits as (
    select * from membership_log
    where change = 'exited'
),

memberships as (
    select
        entries.audience_name,
        entries.person_id,
        entries.entered_at
    from entries
    left join exits on entries.spell_id = exits.spell_id
    where exits.spell_id is null
)

select * from memberships
