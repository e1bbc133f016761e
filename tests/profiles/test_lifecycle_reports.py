"""The weekly lifecycle report agrees with the profiles it summarises (demo warehouse)."""

from __future__ import annotations

from datetime import datetime, timedelta

from cdp.build import demo_as_of
from tests.conftest import query


def test_the_current_week_counts_every_person_in_the_stage_dim_persons_gives_them(demo_warehouse):
    weekly = dict(
        query(
            demo_warehouse,
            """
        select lifecycle_stage, persons from marts.fct_lifecycle_stage_weeks
        where week_start = (select max(week_start) from marts.fct_lifecycle_stage_weeks)""",
        )
    )
    profiles = dict(
        query(demo_warehouse, "select lifecycle_stage, count(*) from marts.dim_persons group by lifecycle_stage")
    )
    assert weekly == profiles
    assert weekly.get("prospect", 0) > 0


def week_end(moment: datetime, as_of: datetime) -> datetime:
    """When the report measures the week `moment` falls in: the next Monday 00:00 (a moment
    exactly at Monday 00:00 ends the week before), or as_of for the current week."""
    monday = datetime.combine(moment.date() - timedelta(days=moment.weekday()), datetime.min.time())
    end = monday if moment == monday else monday + timedelta(days=7)
    return min(end, as_of)


def test_prospects_acquired_are_the_persons_first_seen_who_had_not_bought_by_that_weeks_end(demo_warehouse):
    as_of = demo_as_of()
    (first_reported_week,) = query(demo_warehouse, "select min(week_start) from marts.fct_lifecycle_stage_weeks")[0]
    (acquired,) = query(
        demo_warehouse,
        """
        select coalesce(sum(persons_entered), 0) from marts.fct_lifecycle_stage_weeks
        where lifecycle_stage = 'prospect'""",
    )[0]
    persons = query(
        demo_warehouse,
        """
        with seen as (
            select person_id, min(first_seen_at) as first_seen_at from marts.bdg_person_identifiers group by person_id
        ),
        bought as (
            select person_id, min(purchased_at) as first_purchase_at
            from marts.fct_purchases where not is_fully_returned group by person_id
        )
        select first_seen_at, first_purchase_at from seen left join bought using (person_id)""",
    )
    # Entering in the first reported week means first seen after the week before ended.
    expected = sum(
        1
        for first_seen, first_purchase in persons
        if first_seen > first_reported_week and (first_purchase is None or first_purchase > week_end(first_seen, as_of))
    )
    assert acquired == expected > 0
