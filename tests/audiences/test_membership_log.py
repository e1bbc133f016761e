"""The membership log over three builds of a small fixture: entered_at survives rebuilds, a
person who leaves and comes back starts a new spell, the size history counts, and
`--full-refresh` (the third build) keeps the log. The audience step's table is written by
hand here; dbt builds the log and the two marts from it as `cdp build` would."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from cdp.dbt_runner import DbtError, run_dbt
from tests.conftest import query, warehouse_at

pytestmark = pytest.mark.slow

MODELS = ["int_audience_membership_log", "fct_audience_memberships", "fct_audience_size_days"]


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def prepare(path: Path) -> None:
    """What the log reads besides the step's table: the person ids in use (no merges) and the persons."""
    with duckdb.connect(str(path)) as conn:
        for schema in ("intermediate", "marts", "audiences"):
            conn.execute(f"create schema if not exists {schema}")
        conn.execute(
            """create table intermediate.int_person_ids_resolved as
               select person_id as issued_person_id, person_id as current_person_id,
                      1 as shared_identifiers, false as is_merged_away
               from (values ('A'), ('B'), ('C')) as persons(person_id)"""
        )
        conn.execute(
            "create table marts.dim_persons as "
            "select issued_person_id as person_id from intermediate.int_person_ids_resolved"
        )


def build(path: Path, as_of: str, members: list[tuple[str, str, str | None]], *flags: str) -> None:
    """One build: the step's view of who qualifies now, then dbt on the log and the marts."""
    with duckdb.connect(str(path)) as conn:
        conn.execute(
            """create or replace table audiences.audience_members
               (audience_name varchar, person_id varchar, qualified_at timestamp, evaluated_as_of timestamp)"""
        )
        conn.executemany(
            "insert into audiences.audience_members values (?, ?, ?, ?)",
            [(audience, person, qualified and ts(qualified), ts(as_of)) for audience, person, qualified in members],
        )
        conn.execute(
            """create or replace table audiences.audience_definitions as
               select distinct audience_name, 'model' as audience_kind from audiences.audience_members"""
        )
    with warehouse_at(path):
        run_dbt(["build", "--select", *MODELS, *flags], dbt_vars={"cdp__as_of": as_of})


@pytest.fixture(scope="module")
def three_builds(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("audiences") / "cdp.duckdb"
    prepare(path)
    build(
        path,
        "2026-11-01 09:00:00",
        [
            ("champions", "A", "2026-10-20 10:00:00"),
            ("champions", "B", "2026-10-25 10:00:00"),
            ("recent_purchasers", "A", "2026-10-28 10:00:00"),
        ],
    )
    # A bought again: the audience's qualification time moves; B is no champion any more; C
    # qualifies in an audience that gives no time.
    build(
        path,
        "2026-11-10 09:00:00",
        [
            ("champions", "A", "2026-11-08 10:00:00"),
            ("champions", "C", None),
            ("recent_purchasers", "A", "2026-11-08 10:00:00"),
        ],
    )
    # B is back, with the old qualification time (before B left). Run with --full-refresh:
    # the log must keep the first two builds and only append.
    build(
        path,
        "2026-11-12 09:00:00",
        [
            ("champions", "A", "2026-11-08 10:00:00"),
            ("champions", "B", "2026-10-25 10:00:00"),
            ("champions", "C", None),
            ("recent_purchasers", "A", "2026-11-08 10:00:00"),
        ],
        "--full-refresh",
    )
    return path


def memberships(path: Path) -> dict[tuple[str, str], datetime]:
    rows = query(path, "select audience_name, person_id, entered_at from marts.fct_audience_memberships")
    return {(audience, person): entered_at for audience, person, entered_at in rows}


def test_entered_at_survives_rebuilds_and_a_returning_person_starts_a_new_spell(three_builds):
    assert memberships(three_builds) == {
        # entered on 20 Oct and stayed, whatever the later purchases say
        ("champions", "A"): ts("2026-10-20 10:00:00"),
        ("recent_purchasers", "A"): ts("2026-10-28 10:00:00"),
        # left on 10 Nov, back on 12 Nov: the new spell cannot begin before the exit
        ("champions", "B"): ts("2026-11-10 09:00:00"),
        # no qualification time: the as-of of the build that first saw C qualify
        ("champions", "C"): ts("2026-11-10 09:00:00"),
    }
    spells_of_b = query(
        three_builds,
        """select build_number, change, change_reason, entered_at from intermediate.int_audience_membership_log
           where audience_name = 'champions' and person_id = 'B' order by build_number, change""",
    )
    assert spells_of_b == [
        (1, "entered", "qualified", ts("2026-10-25 10:00:00")),
        (2, "exited", "no_longer_qualifies", ts("2026-10-25 10:00:00")),
        (3, "entered", "qualified", ts("2026-11-10 09:00:00")),
    ]
    # Nothing is written for a member who stays, and the full refresh kept the first builds.
    assert query(
        three_builds, "select count(*) from intermediate.int_audience_membership_log where person_id = 'A'"
    ) == [(2,)]
    assert query(three_builds, "select min(build_number) from intermediate.int_audience_membership_log") == [(1,)]


def test_the_size_history_counts_every_day_from_the_first_build(three_builds):
    days = query(
        three_builds,
        """select date_day, members, entries, exits, merged_away from marts.fct_audience_size_days
           where audience_name = 'champions' order by date_day""",
    )
    assert [day for day, *_ in days] == [date(2026, 11, d) for d in range(1, 13)]
    by_day = {day.day: counts for day, *counts in days}
    assert by_day[1] == [2, 2, 0, 0]
    assert by_day[5] == [2, 0, 0, 0]  # no build that day: the size carries over
    assert by_day[10] == [2, 1, 1, 0]  # C in, B out
    assert by_day[12] == [3, 1, 0, 0]  # B back
    previous = 0
    for _, members, entries, exits, merged_away in days:
        assert members == previous + entries - exits - merged_away
        previous = members
    (recent,) = query(
        three_builds,
        """select count(*), min(members), max(members) from marts.fct_audience_size_days
           where audience_name = 'recent_purchasers'""",
    )
    assert recent == (12, 1, 1)


def test_a_build_that_goes_back_in_time_is_refused_and_changes_nothing(three_builds):
    before = query(three_builds, "select * from intermediate.int_audience_membership_log order by membership_change_id")
    with pytest.raises(DbtError):
        build(three_builds, "2026-11-05 09:00:00", [("champions", "A", "2026-10-20 10:00:00")])
    after = query(three_builds, "select * from intermediate.int_audience_membership_log order by membership_change_id")
    assert after == before
