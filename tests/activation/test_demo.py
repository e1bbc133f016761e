"""`make demo` end to end: the demo's plan synced to the stand-ins, then `cdp demo` again
(a second build and sync): the plan keeps its keys, knows what was sent, and nothing is
sent twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cdp.build import demo_as_of
from cdp.sync_cli import sync_to_standins
from tests.conftest import query, row_changes, state_sync_rows, warehouse_at

PROJECT = Path(__file__).resolve().parents[2]


def plan(warehouse: Path) -> dict[str, tuple]:
    return {
        key: rest
        for key, *rest in query(
            warehouse,
            "select message_key, person_id, journey, step, channel, status, suppression_reason "
            "from marts.fct_message_plan",
        )
    }


def due_planned(warehouse: Path) -> set[str]:
    return {
        k
        for (k,) in query(
            warehouse,
            "select message_key from marts.fct_message_plan where status = 'planned' and send_after <= ?",
            [demo_as_of()],
        )
    }


@pytest.fixture(scope="module")
def demo_twice(demo_warehouse, tmp_path_factory) -> dict:
    """The demo warehouse synced once in-process, then `cdp demo` run on it as a user runs it."""
    warehouse = tmp_path_factory.mktemp("demo-twice") / "cdp.duckdb"
    shutil.copy(demo_warehouse, warehouse)
    before = plan(warehouse)
    due = due_planned(warehouse)
    synced_before = state_sync_rows(warehouse)
    with warehouse_at(warehouse):
        first = sync_to_standins(now=demo_as_of())
    environment = os.environ | {"CDP_WAREHOUSE": str(warehouse), "CDP_PROJECT_DIR": str(PROJECT)}
    environment.pop("CDP_ACTIVATION_CONFIG", None)
    second = subprocess.run(
        [sys.executable, "-m", "cdp.cli", "demo"],
        cwd=PROJECT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return {
        "warehouse": warehouse,
        "before": before,
        "due": due,
        "first": first,
        "second": second.stdout,
        "after": plan(warehouse),
        "synced_before": synced_before,
        "synced_after": state_sync_rows(warehouse),
    }


def test_first_sync_sends_every_due_planned_message_once(demo_twice):
    first = demo_twice["first"]
    assert all(r.status == "succeeded" for r in first.reports), [(r.sync, r.status, r.error) for r in first.reports]
    sent = query(
        demo_twice["warehouse"],
        "select message_key, count(*) from activation.message_events where event_type = 'sent' group by 1",
    )
    assert {k for k, _ in sent} == demo_twice["due"] and {n for _, n in sent} == {1}
    accepted = sum(n for name, n in first.holdings.items() if name.endswith("messages accepted"))
    assert accepted == len(demo_twice["due"])
    members = query(demo_twice["warehouse"], "select count(*) from marts.sync_klaviyo__members")[0][0]
    assert first.holdings["klaviyo list members"] == members


def test_message_keys_are_stable_across_builds(demo_twice):
    before, after = demo_twice["before"], demo_twice["after"]
    # Ethan's erasure request waited for a graph that knows him (docs/privacy.md): the second build erases him.
    erased = {key for key, row in before.items() if row[5] == "erased"}
    assert erased and set(after) == set(before) - erased
    assert all(before[key][:4] == after[key][:4] for key in after)  # person, journey, step, channel


def test_the_second_build_knows_what_was_sent_and_sends_nothing_twice(demo_twice):
    after, due = demo_twice["after"], demo_twice["due"]
    assert {key for key, row in after.items() if row[5] == "already_sent"} == due
    # Only messages not due at the demo's as-of moment are still planned.
    still_planned = {key for key, row in after.items() if row[4] == "planned"}
    assert still_planned == {key for key, row in demo_twice["before"].items() if row[4] == "planned"} - due
    output = demo_twice["second"]
    report = output[output.index("Syncing to local provider stand-ins") :]
    assert "sends 0" in report and "sends 1" not in report
    # The state syncs send what changed between the builds, and only that. (The second
    # build is the one that erases the demo's erasure request from the warehouse: the
    # first build's identity graph names the person. The RFM quintiles of the other
    # buyers move with one buyer fewer, so some leave `champions`.)
    for name, before_rows in demo_twice["synced_before"].items():
        adds, changes, removes = row_changes(before_rows, demo_twice["synced_after"][name])
        lines = report.splitlines()
        head = next(number for number, text in enumerate(lines) if text.startswith(f"{name} -> "))
        line = lines[head + 1]
        assert line.strip().startswith(f"adds {adds:,}, changes {changes:,}, removes {removes:,} "), (name, line)
    received = report[report.index("received:") :].splitlines()[1:]
    # A stand-in lists the messages it accepted only when there were some.
    assert received and not [line for line in received if "messages accepted" in line], received
    ledger = query(demo_twice["warehouse"], "select status, count(*) from activation.send_ledger group by 1")
    assert ledger == [("sent", len(due))]


def test_sends_are_in_the_message_history_under_their_person(demo_twice):
    rows = query(
        demo_twice["warehouse"],
        """
        select e.message_key, e.person_id, p.person_id
        from marts.fct_message_events e join marts.fct_message_plan p using (message_key)
        where e.event_source = 'activation'""",
    )
    assert {key for key, _, _ in rows} == demo_twice["due"]
    assert all(event_person == plan_person for _, event_person, plan_person in rows)


def test_sync_to_the_stand_ins_from_the_command_line(demo_twice, monkeypatch, capsys):
    """`cdp sync` runs now, long after the demo's plan (as of 20 Nov 2026): the state syncs run,
    every message sync refuses the old plan and says why, and nothing reaches a provider."""
    from cdp.cli import main

    monkeypatch.setenv("CDP_WAREHOUSE", str(demo_twice["warehouse"]))
    monkeypatch.delenv("CDP_ACTIVATION_CONFIG", raising=False)
    assert main(["sync", "--stand-in", "--dry-run"]) == 1
    out = capsys.readouterr().out
    assert "klaviyo_members -> klaviyo (state, mirror): dry_run" in out
    assert "email_messages -> sendgrid (message, add-only): refused" in out
    assert "was built at 2026-11-20 09:00 UTC, more than max_plan_age_hours (6) before now" in out
    received = out[out.index("received:") :].splitlines()
    assert [line.split()[-1] for line in received if line.split()[:1] == ["requests"]] == ["0"]


def test_the_decision_log_keeps_first_decisions_and_changes(demo_twice):
    """Two builds as of the same moment: a sent message's log has its first decision (planned) and
    the change to already_sent; everything else decided the same appended nothing."""
    rows = query(
        demo_twice["warehouse"],
        """
        select message_key, decision_number, decision_change, status, suppression_reason, decided_at
        from marts.fct_message_decisions order by message_key, decision_number""",
    )
    by_key: dict[str, list[tuple]] = {}
    for key, *decision in rows:
        by_key.setdefault(key, []).append(tuple(decision))
    assert set(by_key) == set(demo_twice["after"])
    as_of = demo_as_of()
    for key, decisions in by_key.items():
        if key in demo_twice["due"]:
            assert decisions == [
                (1, "first", "planned", None, as_of),
                (2, "changed", "suppressed", "already_sent", as_of),
            ]
        else:
            assert [d[:2] for d in decisions] == [(1, "first")]
