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
from tests.conftest import query, warehouse_at

PROJECT = Path(__file__).resolve().parents[2]


def plan(warehouse: Path) -> dict[str, tuple]:
    return {key: rest for key, *rest in query(warehouse, "select message_key, person_id, journey, step, channel, status, suppression_reason from marts.fct_message_plan")}


def due_planned(warehouse: Path) -> set[str]:
    return {k for (k,) in query(warehouse, "select message_key from marts.fct_message_plan where status = 'planned' and send_after <= ?", [demo_as_of()])}


@pytest.fixture(scope="module")
def demo_twice(demo_warehouse, tmp_path_factory) -> dict:
    """The demo warehouse synced once in-process, then `cdp demo` run on it as a user runs it."""
    warehouse = tmp_path_factory.mktemp("demo-twice") / "cdp.duckdb"
    shutil.copy(demo_warehouse, warehouse)
    before = plan(warehouse)
    due = due_planned(warehouse)
    with warehouse_at(warehouse):
        first = sync_to_standins(now=demo_as_of())
    environment = os.environ | {"CDP_WAREHOUSE": str(warehouse), "CDP_PROJECT_DIR": str(PROJECT)}
    environment.pop("CDP_ACTIVATION_CONFIG", None)
    second = subprocess.run([sys.executable, "-m", "cdp.cli", "demo"], cwd=PROJECT, env=environment,
                            capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    return {"warehouse": warehouse, "before": before, "due": due, "first": first, "second": second.stdout, "after": plan(warehouse)}


def test_first_sync_sends_every_due_planned_message_once(demo_twice):
    first = demo_twice["first"]
    assert all(r.status == "succeeded" for r in first.reports), [(r.sync, r.status, r.error) for r in first.reports]
    sent = query(demo_twice["warehouse"], "select message_key, count(*) from activation.message_events where event_type = 'sent' group by 1")
    assert {k for k, _ in sent} == demo_twice["due"] and {n for _, n in sent} == {1}
    accepted = sum(n for name, n in first.holdings.items() if name.endswith("messages accepted"))
    assert accepted == len(demo_twice["due"])
    members = query(demo_twice["warehouse"], "select count(*) from marts.sync_klaviyo__members")[0][0]
    assert first.holdings["klaviyo list members"] == members


def test_message_keys_are_stable_across_builds(demo_twice):
    before, after = demo_twice["before"], demo_twice["after"]
    assert set(before) == set(after)
    assert all(before[key][:4] == after[key][:4] for key in before)  # person, journey, step, channel


def test_the_second_build_knows_what_was_sent_and_sends_nothing_twice(demo_twice):
    after, due = demo_twice["after"], demo_twice["due"]
    assert {key for key, row in after.items() if row[5] == "already_sent"} == due
    # Only messages not due at the demo's as-of moment are still planned.
    still_planned = {key for key, row in after.items() if row[4] == "planned"}
    assert still_planned == {key for key, row in demo_twice["before"].items() if row[4] == "planned"} - due
    output = demo_twice["second"]
    report = output[output.index("Syncing to local provider stand-ins"):]
    assert "sends 0" in report and "sends 1" not in report
    assert report.count("adds 0, changes 0, removes 0") == 3
    received = report[report.index("received:"):].splitlines()[1:]
    assert received and all(line.split()[-1] == "0" for line in received), received
    ledger = query(demo_twice["warehouse"], "select status, count(*) from activation.send_ledger group by 1")
    assert ledger == [("sent", len(due))]


def test_sends_are_in_the_message_history_under_their_person(demo_twice):
    rows = query(demo_twice["warehouse"], """
        select e.message_key, e.person_id, p.person_id
        from marts.fct_message_events e join marts.fct_message_plan p using (message_key)
        where e.event_source = 'activation'""")
    assert {key for key, _, _ in rows} == demo_twice["due"]
    assert all(event_person == plan_person for _, event_person, plan_person in rows)


def test_sync_to_the_stand_ins_from_the_command_line(demo_twice, monkeypatch, capsys):
    from cdp.cli import main

    monkeypatch.setenv("CDP_WAREHOUSE", str(demo_twice["warehouse"]))
    monkeypatch.delenv("CDP_ACTIVATION_CONFIG", raising=False)
    assert main(["sync", "--stand-in", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "email_messages -> sendgrid (message, add-only): dry_run" in out
    received = out[out.index("received:"):].splitlines()
    assert [line.split()[-1] for line in received if line.split()[:1] == ["requests"]] == ["0"]
