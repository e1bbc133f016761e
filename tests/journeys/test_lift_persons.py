"""Who lift compares and what they bought: int_journey_lift_persons, compiled by dbt and run on
fixture decisions, purchases and merges (the demo warehouse gives the tables their column types).

The stories are of win_back (promotional, holdout_share 0.1 by default) and welcome
(transactional: no global control), as of the harness's AS_OF.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import duckdb
import pytest

from cdp.dbt_plugin import register_functions
from cdp.project_vars import project_var
from tests.journeys.plan_harness import AS_OF, compile_plan

DAY = timedelta(days=1)
MODEL = ("intermediate", "int_journey_lift_persons")
INPUTS = {
    "marts": ("fct_message_decisions", "fct_purchases"),
    "intermediate": ("int_person_ids_resolved",),
}
WINDOW_DAYS = project_var("cdp__lift_attribution_days")
CLOSED = AS_OF - (WINDOW_DAYS + 5) * DAY  # a due_at whose window ended before AS_OF


NUMBERS = count(1)


def holdout_share(journey: str) -> float:
    (entry,) = [entry for entry in project_var("cdp__journeys") if entry["journey"] == journey]
    return entry.get("holdout_share", project_var("cdp__journey_holdout_share"))


def decision(person: str, status: str, reason: str | None, due_at, journey="win_back", purpose="promotional") -> dict:
    number = next(NUMBERS)
    return {
        "decision_id": f"d{number}",
        "message_key": f"m{number}",
        "decision_number": 1,
        "person_id": person,
        "journey": journey,
        "step": 1,
        "purpose": purpose,
        "status": status,
        "suppression_reason": reason,
        "due_at": due_at,
        "decided_at": due_at,
    }


def purchase(person: str, purchased_at, amount: float, fully_returned: bool = False) -> dict:
    return {
        "purchase_id": f"p{next(NUMBERS)}",
        "person_id": person,
        "channel": "store",
        "purchased_at": purchased_at,
        "net_amount": 0.0 if fully_returned else amount,
        "is_fully_returned": fully_returned,
    }


ROWS = {
    ("marts", "fct_message_decisions"): [
        decision("treated_buyer", "planned", None, CLOSED),
        # A later decision about another step: the window starts at the first due_at.
        decision("treated_buyer", "suppressed", "already_sent", CLOSED + 3 * DAY),
        decision("capped", "suppressed", "frequency_cap", CLOSED),
        decision("held_out_buyer", "suppressed", "holdout", CLOSED),
        decision("control", "suppressed", "global_control", CLOSED),
        decision("no_consent", "suppressed", "no_consent", CLOSED),
        decision("recent", "planned", None, AS_OF - 2 * DAY),
        # Decided under an id since merged into "survivor", who was held out under their own.
        decision("merged_away", "planned", None, CLOSED),
        decision("survivor", "suppressed", "holdout", CLOSED),
        # Transactional: held out of its journey, but no global control.
        decision("welcome_held_out", "suppressed", "holdout", CLOSED, journey="welcome", purpose="transactional"),
    ],
    ("marts", "fct_purchases"): [
        purchase("treated_buyer", CLOSED + DAY, 30.0),
        purchase("treated_buyer", CLOSED + 2 * DAY, 12.5),
        purchase("treated_buyer", CLOSED + (WINDOW_DAYS + 1) * DAY, 99.0),  # after the window
        purchase("treated_buyer", CLOSED - DAY, 99.0),  # before it
        purchase("held_out_buyer", CLOSED + DAY, 20.0, fully_returned=True),
        purchase("control", CLOSED + 5 * DAY, 8.0),
    ],
    ("intermediate", "int_person_ids_resolved"): [
        {"issued_person_id": "merged_away", "current_person_id": "survivor", "is_merged_away": True},
    ],
}


@pytest.fixture(scope="module")
def lift_persons(demo_warehouse, tmp_path_factory) -> dict[tuple[str, str | None, str], dict]:
    workspace = tmp_path_factory.mktemp("lift-compile")
    compiled = compile_plan(workspace / "target", workspace / "cdp.duckdb", {}, models=(MODEL,))
    conn = duckdb.connect()
    try:
        register_functions(conn)
        conn.execute("set TimeZone = 'UTC'")
        conn.execute(f"attach '{demo_warehouse}' as schema_source (read_only)")
        conn.execute("attach ':memory:' as cdp")
        conn.execute("use cdp")
        for schema, tables in INPUTS.items():
            conn.execute(f"create schema if not exists cdp.{schema}")
            for table in tables:
                conn.execute(f"create table cdp.{schema}.{table} as from schema_source.{schema}.{table} limit 0")
        for (schema, table), rows in ROWS.items():
            for row in rows:
                marks = ", ".join("?" for _ in row)
                conn.execute(
                    f"insert into cdp.{schema}.{table} ({', '.join(row)}) values ({marks})", list(row.values())
                )
        conn.execute("detach schema_source")
        cursor = conn.execute(compiled[MODEL[1]])
        names = [column[0] for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        conn.close()
    return {(row["comparison"], row["journey"], row["person_id"]): row for row in rows}


def test_sides_follow_the_holdout_draw_with_capped_persons_treated(lift_persons):
    sides = {
        person: row["side"] for (comparison, journey, person), row in lift_persons.items() if journey == "win_back"
    }
    assert sides == {
        "treated_buyer": "treated",
        "capped": "treated",
        "held_out_buyer": "held_out",
        "recent": "treated",
        "survivor": "both",
    }


def test_the_global_comparison_holds_promotional_persons_who_reached_its_draw(lift_persons):
    sides = {
        person: row["side"] for (comparison, _, person), row in lift_persons.items() if comparison == "global_control"
    }
    # Held out of win_back is still past the global draw; welcome is transactional; no_consent never reached it.
    assert sides == {
        "treated_buyer": "treated",
        "capped": "treated",
        "held_out_buyer": "treated",
        "recent": "treated",
        "survivor": "treated",
        "control": "held_out",
    }
    assert {row["expected_held_out_share"] for (c, _, _), row in lift_persons.items() if c == "global_control"} == {
        project_var("cdp__global_control_share")
    }


def test_outcomes_are_the_purchases_inside_the_window_from_the_first_due_at(lift_persons):
    buyer = lift_persons[("journey_holdout", "win_back", "treated_buyer")]
    assert buyer["window_starts_at"] == CLOSED
    assert (buyer["purchases"], buyer["revenue"], buyer["is_converted"]) == (2, 42.5, True)
    assert buyer["is_window_closed"]
    # A fully returned purchase is no conversion.
    returned = lift_persons[("journey_holdout", "win_back", "held_out_buyer")]
    assert (returned["purchases"], returned["revenue"], returned["is_converted"]) == (0, 0.0, False)
    assert lift_persons[("global_control", None, "control")]["revenue"] == 8.0


def test_a_window_still_running_is_open(lift_persons):
    assert not lift_persons[("journey_holdout", "win_back", "recent")]["is_window_closed"]


def test_the_journey_share_is_the_configured_holdout_share(lift_persons):
    welcome = lift_persons[("journey_holdout", "welcome", "welcome_held_out")]
    assert welcome["side"] == "held_out"
    assert welcome["expected_held_out_share"] == pytest.approx(holdout_share("welcome"))
    win_back = lift_persons[("journey_holdout", "win_back", "held_out_buyer")]
    assert win_back["expected_held_out_share"] == pytest.approx(holdout_share("win_back"))
