"""A real `cdp sync` process killed with SIGKILL at several points, then run again:
nothing is lost and nothing is sent twice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
import yaml

from activation.standins import Fault, Standin
from tests.activation.conftest import SECRETS, create_members, create_plan

PROJECT = Path(__file__).resolve().parents[2]


def write_config(path: Path, standin: Standin, sync: dict, destination: dict) -> Path:
    document = {
        "destinations": {"provider": destination | {"base_url": standin.url}},
        "syncs": [sync],
        "merge_log": None,
    }
    path.write_text(yaml.safe_dump(document))
    return path


def start_sync(warehouse: Path, config: Path) -> subprocess.Popen:
    env = (
        os.environ
        | SECRETS
        | {"CDP_WAREHOUSE": str(warehouse), "CDP_ACTIVATION_CONFIG": str(config), "CDP_PROJECT_DIR": str(PROJECT)}
    )
    return subprocess.Popen(
        [sys.executable, "-m", "cdp.cli", "sync"], cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def killed_then_rerun(warehouse: Path, config: Path, standin: Standin, fault: Fault, rerun_exit: int = 0) -> None:
    process = start_sync(warehouse, config)
    fault.pid = process.pid
    standin.add_fault(fault)
    process.wait(timeout=60)
    assert process.returncode == -9, process.stderr.read().decode()[-2000:]
    rerun = start_sync(warehouse, config)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == rerun_exit, (out + err).decode()[-2000:]


def query(warehouse: Path, sql: str):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def plan_warehouse(tmp_path: Path) -> Path:
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        create_plan(conn, people=8)
        conn.execute("update marts.fct_message_plan set send_after = timestamp '2020-01-01 00:00:00'")
    return warehouse


def due_keys(warehouse: Path, channels: tuple[str, ...]) -> set[str]:
    listed = ", ".join(f"'{c}'" for c in channels)
    return {
        r[0]
        for r in query(
            warehouse,
            f"select message_key from marts.fct_message_plan where status = 'planned' and channel in ({listed})",
        )
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["kill_after_answer", "kill_before_answer"])
def test_state_sync_killed_mid_run_resumes_without_loss(tmp_path, kind):
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        create_members(conn, 95)
    destination = {
        "type": "klaviyo",
        "credentials": {"api_key": "TEST_KLAVIYO_KEY"},
        "settings": {"list_id": "LIST1"},
        "batch_sizes": {"upsert": 10},
        "rate_limits": {
            "bulk_import": {"per_second": 1000, "burst": 100},
            "subscriptions": {"per_second": 1000, "burst": 100},
        },
    }
    sync = {
        "name": "members",
        "source": "marts.sync_test__members",
        "destination": "provider",
        "kind": "state",
        "mode": "mirror",
        "key": "person_id",
        "fields": ["email", "first_name", "loyalty_tier"],
    }
    with Standin() as standin:
        config = write_config(tmp_path / "activation.yml", standin, sync, destination)
        killed_then_rerun(warehouse, config, standin, Fault(kind, after=4, path_contains="bulk-import"))
        members = {r[0] for r in query(warehouse, "select person_id from marts.sync_test__members")}
        assert standin["klaviyo"].members["LIST1"] == members
        assert {r[0] for r in query(warehouse, "select record_key from activation.sync_state")} == members
        statuses = dict(query(warehouse, "select status, count(*) from activation.sync_runs group by 1"))
        assert statuses == {"interrupted": 1, "succeeded": 1}
        # Only what was unacknowledged or uncommitted at the kill is sent again: the batch on
        # the wire and the one whose acknowledgement was being committed (upserts are idempotent).
        assert standin["klaviyo"].profile_rows_received <= len(members) + 2 * 10


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["kill_on_arrival", "kill_before_answer", "kill_after_answer"])
def test_idempotent_sends_killed_mid_run_are_delivered_exactly_once(tmp_path, plan_warehouse, kind):
    destination = {
        "type": "webhook",
        "credentials": {"signing_secret": "TEST_WEBHOOK_SECRET"},
        "settings": {"path": "/hook"},
    }
    sync = {
        "name": "messages",
        "source": "marts.fct_message_plan",
        "destination": "provider",
        "kind": "message",
        "channels": ["email", "sms", "whatsapp", "app_push", "web_push"],
    }
    with Standin() as standin:
        standin["webhook"].signing_secret = SECRETS["TEST_WEBHOOK_SECRET"]
        config = write_config(tmp_path / "activation.yml", standin, sync, destination)
        killed_then_rerun(plan_warehouse, config, standin, Fault(kind, after=7, path_contains="/hook"))
        due = due_keys(plan_warehouse, ("email", "sms", "whatsapp", "app_push", "web_push"))
        assert set(standin.deliveries) == due
        assert set(standin.deliveries.values()) == {1}
        assert dict(query(plan_warehouse, "select status, count(*) from activation.send_ledger group by 1")) == {
            "sent": len(due)
        }
        events = query(
            plan_warehouse,
            "select message_key, count(*) from activation.message_events where event_type = 'sent' group by 1",
        )
        assert {k for k, _ in events} == due and {n for _, n in events} == {1}


SMS_SYNC = {
    "name": "sms",
    "source": "marts.fct_message_plan",
    "destination": "provider",
    "kind": "message",
    "channels": ["sms"],
    "join": {"relation": "marts.dim_persons", "columns": ["phone", "first_name"]},
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["kill_on_arrival", "kill_before_answer", "kill_after_answer"])
def test_sends_the_provider_can_be_asked_about_are_looked_up_and_delivered_exactly_once(tmp_path, plan_warehouse, kind):
    destination = {
        "type": "twilio",
        "credentials": {"account_sid": "TEST_TWILIO_SID", "auth_token": "TEST_TWILIO_TOKEN"},
        "rate_limits": {"messages": {"per_second": 1000, "burst": 100}},
        "settings": {"from": "+15005550006", "templates": {"welcome": "Welcome {first_name}"}},
    }
    with Standin() as standin:
        config = write_config(tmp_path / "activation.yml", standin, SMS_SYNC, destination)
        killed_then_rerun(plan_warehouse, config, standin, Fault(kind, after=3, path_contains="Messages.json"))
        due = due_keys(plan_warehouse, ("sms",))
        recipients = [m["To"] for m in standin["twilio"].messages]
        assert len(recipients) == len(set(recipients)) == len(due), "a person got the message twice or not at all"
        # The send cut off between intent and outcome was asked about: found (closed as sent) or sent now.
        ledger = dict(query(plan_warehouse, "select status, count(*) from activation.send_ledger group by 1"))
        assert ledger == {"sent": len(due)}
        sids = {m["sid"] for m in standin["twilio"].resources}
        recorded = {sid for (sid,) in query(plan_warehouse, "select provider_message_id from activation.send_ledger")}
        assert recorded == sids


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["kill_on_arrival", "kill_before_answer", "kill_after_answer"])
def test_sends_without_idempotency_key_or_lookup_are_never_repeated(tmp_path, plan_warehouse, kind):
    destination = {
        "type": "whatsapp_cloud",
        "credentials": {"access_token": "TEST_WHATSAPP_TOKEN"},
        "rate_limits": {"messages": {"per_second": 1000, "burst": 100}},
        "settings": {"phone_number_id": "000000000000000", "templates": {"welcome": "cdp_welcome"}},
    }
    sync = SMS_SYNC | {"name": "whatsapp", "channels": ["whatsapp"]}
    with Standin() as standin:
        config = write_config(tmp_path / "activation.yml", standin, sync, destination)
        # The rerun reports the unknown send: it exits 3 (needs attention), not 0.
        killed_then_rerun(
            plan_warehouse, config, standin, Fault(kind, after=3, path_contains="/messages"), rerun_exit=3
        )
        due = due_keys(plan_warehouse, ("whatsapp",))
        recipients = [m["to"] for m in standin["whatsapp_cloud"].messages]
        assert len(recipients) == len(set(recipients)), "a person got the same message twice"
        ledger = dict(query(plan_warehouse, "select status, count(*) from activation.send_ledger group by 1"))
        # The one send cut off between intent and outcome is unknown: not repeated, and not silently lost.
        assert ledger == {"sent": len(due) - 1, "unknown": 1}
        delivered_to_unknown = 1 if kind != "kill_on_arrival" else 0
        assert len(recipients) == len(due) - 1 + delivered_to_unknown
        unknown = query(
            plan_warehouse,
            "select event_type, count(*) from activation.message_events where event_type = 'unknown' group by 1",
        )
        assert unknown == [("unknown", 1)]
