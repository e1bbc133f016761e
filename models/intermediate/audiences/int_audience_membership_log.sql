{{ config(
    materialized='incremental',
    incremental_strategy='append',
    full_refresh=cdp_allow_audience_state_refresh(),
) }}
{#-
    Append-only log of audience membership spells: an `entered` row when a person starts
    a spell in an audience, an `exited` row when it ends, both stamped with the build's
    as-of (recorded_at) and number. A spell that is open is a current membership
    (fct_audience_memberships); rows are never changed, so when a person entered survives
    every rebuild, and the size history (fct_audience_size_days) needs no state of its own.

    Each build compares who qualifies at the as-of (source cdp_audiences, written by the audience
    step) with the open spells:
      * a member without an open spell starts one; its entered_at is the time the
        audience says the person came to qualify, not before the person last left the
        audience and not after the as-of; the as-of when the audience does not say;
      * a member with an open spell keeps it and its entered_at, whatever the audience
        now says (a champion's latest purchase moves with every purchase);
      * an open spell whose person no longer qualifies ends (`no_longer_qualifies`);
      * identity merges: a spell of a merged-away person ends (`merged`, with the
        survivor), and a survivor in the audience without a spell of its own carries on
        the earliest of those spells (an entry with reason `merged`), so that members
        follow the survivor (int_person_ids_resolved) without a new entry time.
-#}

{%- if is_incremental() and execute and model.resource_type == 'model' %}
{#- Days and spells follow the as-of: a build that went back in time would end spells before they began.
    (Not in unit tests, whose as-of is their own.) -#}
{%- set latest = run_query('select max(recorded_at) from ' ~ this).columns[0].values()[0] %}
{%- if latest is not none and latest.strftime('%Y-%m-%d %H:%M:%S') > cdp_as_of_string() %}
    {{ exceptions.raise_compiler_error(
        'cdp__as_of ' ~ cdp_as_of_string() ~ ' is earlier than the last build recorded in ' ~ this ~ ' ('
        ~ latest.strftime('%Y-%m-%d %H:%M:%S') ~ '): audience memberships only move forward in time. Build into '
        ~ 'another warehouse, or rebuild the log (var cdp__audience_allow_state_refresh and --full-refresh).') }}
{%- endif %}
{%- endif %}

with qualified as (
    select * from {{ source('cdp_audiences', 'audience_members') }}
),

person_ids as (
    select * from {{ ref('int_person_ids_resolved') }}
),

history as (
    {{ cdp_incremental_history({
        'membership_change_id': dbt.type_string(),
        'spell_id': dbt.type_string(),
        'build_number': dbt.type_bigint(),
        'recorded_at': dbt.type_timestamp(),
        'audience_name': dbt.type_string(),
        'person_id': dbt.type_string(),
        'change': dbt.type_string(),
        'change_reason': dbt.type_string(),
        'entered_at': dbt.type_timestamp(),
        'qualified_at': dbt.type_timestamp(),
        'merged_into_person_id': dbt.type_string()
    }) }}
),

this_build as (
    select
        coalesce(max(build_number), 0) + 1 as build_number,
        {{ cdp_as_of() }} as recorded_at
    from history
),

-- who qualifies, under the ids in use at the as-of: the step's table may predate a merge
members as (
    select
        qualified.audience_name,
        coalesce(person_ids.current_person_id, qualified.person_id) as person_id,
        min(cast(qualified.qualified_at as {{ dbt.type_timestamp() }})) as qualified_at
    from qualified
    left join person_ids on qualified.person_id = person_ids.issued_person_id
    group by qualified.audience_name, coalesce(person_ids.current_person_id, qualified.person_id)
),

entries_recorded as (
    select * from history
    where change = 'entered'
),

exits_recorded as (
    select * from history
    where change = 'exited'
),

open_spells as (
    select
        entries_recorded.spell_id,
        entries_recorded.audience_name,
        entries_recorded.person_id,
        entries_recorded.entered_at,
        coalesce(person_ids.current_person_id, entries_recorded.person_id) as current_person_id
    from entries_recorded
    left join exits_recorded on entries_recorded.spell_id = exits_recorded.spell_id
    left join person_ids on entries_recorded.person_id = person_ids.issued_person_id
    where exits_recorded.spell_id is null
),

ending as (
    select
        open_spells.spell_id,
        open_spells.audience_name,
        open_spells.person_id,
        open_spells.entered_at,
        case
            when open_spells.current_person_id <> open_spells.person_id then 'merged' else 'no_longer_qualifies'
        end as change_reason,
        case
            when open_spells.current_person_id <> open_spells.person_id then open_spells.current_person_id
        end as merged_into_person_id
    from open_spells
    left join members
        on open_spells.audience_name = members.audience_name
        and open_spells.person_id = members.person_id
    where members.person_id is null
),

continuing as (
    select
        audience_name,
        person_id
    from open_spells
    where current_person_id = person_id
),

inherited as (
    select
        audience_name,
        current_person_id as person_id,
        min(entered_at) as entered_at
    from open_spells
    where current_person_id <> person_id
    group by audience_name, current_person_id
),

last_exits as (
    select
        audience_name,
        person_id,
        max(recorded_at) as exited_at
    from exits_recorded
    group by audience_name, person_id
),

starting as (
    select
        members.audience_name,
        members.person_id,
        members.qualified_at,
        case when inherited.entered_at is not null then 'merged' else 'qualified' end as change_reason,
        case
            when inherited.entered_at is not null then inherited.entered_at
            when members.qualified_at is null or members.qualified_at >= this_build.recorded_at
                then this_build.recorded_at
            when last_exits.exited_at >= this_build.recorded_at then this_build.recorded_at
            when last_exits.exited_at > members.qualified_at then last_exits.exited_at
            else members.qualified_at
        end as entered_at
    from members
    cross join this_build
    left join continuing
        on members.audience_name = continuing.audience_name
        and members.person_id = continuing.person_id
    left join inherited
        on members.audience_name = inherited.audience_name
        and members.person_id = inherited.person_id
    left join last_exits
        on members.audience_name = last_exits.audience_name
        and members.person_id = last_exits.person_id
    where continuing.person_id is null
),

changes as (
    select
        ending.spell_id,
        ending.audience_name,
        ending.person_id,
        'exited' as change,
        ending.change_reason,
        ending.entered_at,
        cast(null as {{ dbt.type_timestamp() }}) as qualified_at,
        ending.merged_into_person_id
    from ending
    union all
    select
        {{ cdp_surrogate_key(['starting.audience_name', 'starting.person_id', 'this_build.build_number']) }}
            as spell_id,
        starting.audience_name,
        starting.person_id,
        'entered' as change,
        starting.change_reason,
        starting.entered_at,
        starting.qualified_at,
        cast(null as {{ dbt.type_string() }}) as merged_into_person_id
    from starting
    cross join this_build
),

logged as (
    select
        {{ cdp_surrogate_key(['changes.spell_id', 'changes.change']) }} as membership_change_id,
        changes.spell_id,
        this_build.build_number,
        this_build.recorded_at,
        changes.audience_name,
        changes.person_id,
        changes.change,
        changes.change_reason,
        changes.entered_at,
        changes.qualified_at,
        changes.merged_into_person_id
    from changes
    cross join this_build
)

select * from logged
