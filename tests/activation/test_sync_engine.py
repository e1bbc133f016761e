"""The sync engine against the stateful stand-in: diffs, modes, guard, rejections, merges,
message sends and the state it leaves in the warehouse."""

from __future__ import annotations

import duckdb
import pytest

from activation.engine import run_syncs
from tests.activation.conftest import NOW, create_members, klaviyo_destination, make_config, state_sync


def query(warehouse, sql, params=None):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def source_keys(warehouse, relation="marts.sync_test__members"):
    return {r[0] for r in query(warehouse, f"select person_id from {relation}")}


def run(warehouse, config, **kwargs):
    reports = run_syncs(warehouse, config, now=NOW, **kwargs)
    return reports[0] if len(reports) == 1 else reports


def test_first_run_adds_every_member_and_unchanged_rerun_sends_nothing(warehouse, standin, secrets):
    config = make_config({"klaviyo": klaviyo_destination(standin.url)}, [state_sync()])
    first = run(warehouse, config)
    assert first.status == "succeeded"
    assert first.adds == len(source_keys(warehouse)) and first.ok == first.adds
    assert standin["klaviyo"].members["LIST1"] == source_keys(warehouse)
    received = standin["klaviyo"].profile_rows_received

    second = run(warehouse, config)
    assert (second.adds, second.changes, second.removes, second.http_requests) == (0, 0, 0, 0)
    assert standin["klaviyo"].profile_rows_received == received
    synced = query(warehouse, "select count(*) from activation.sync_state where sync_name = 'members'")[0][0]
    assert synced == len(source_keys(warehouse))


def test_change_sends_only_changed_fields_and_mirror_removes_only_its_own_keys(warehouse, standin, secrets):
    config = make_config({"klaviyo": klaviyo_destination(standin.url)}, [state_sync()])
    run(warehouse, config)
    standin["klaviyo"].members["LIST1"].add("someone-else-added")
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update marts.sync_test__members set loyalty_tier = 'platinum' where person_id = 'p0000002'")
        conn.execute("delete from marts.sync_test__members where person_id in ('p0000003', 'p0000004')")
    before = standin["klaviyo"].profile_rows_received

    report = run(warehouse, config)
    assert (report.adds, report.changes, report.removes) == (0, 1, 2)
    assert "change p0000002 (loyalty_tier)" in report.sample
    assert standin["klaviyo"].profile_rows_received == before + 1
    profile = standin["klaviyo"].profiles["p0000002"]
    assert profile["loyalty_tier"] == "platinum"
    assert standin["klaviyo"].members["LIST1"] == source_keys(warehouse) | {"someone-else-added"}
    removed = query(
        warehouse, "select count(*) from activation.sync_state where record_key in ('p0000003', 'p0000004')"
    )[0][0]
    assert removed == 0


def test_upsert_and_add_only_modes_never_remove(warehouse, standin, secrets):
    for mode in ("upsert", "add-only"):
        config = make_config(
            {"klaviyo": klaviyo_destination(standin.url)},
            [state_sync(name=f"members_{mode.replace('-', '_')}", mode=mode)],
        )
        run(warehouse, config)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update marts.sync_test__members set first_name = 'Changed' where person_id = 'p0000001'")
        conn.execute("delete from marts.sync_test__members where person_id = 'p0000005'")
    upsert = run(
        warehouse,
        make_config({"klaviyo": klaviyo_destination(standin.url)}, [state_sync(name="members_upsert", mode="upsert")]),
    )
    add_only = run(
        warehouse,
        make_config(
            {"klaviyo": klaviyo_destination(standin.url)}, [state_sync(name="members_add_only", mode="add-only")]
        ),
    )
    assert (upsert.adds, upsert.changes, upsert.removes) == (0, 1, 0)
    assert (add_only.adds, add_only.changes, add_only.removes) == (0, 0, 0)
    assert "p0000005" in standin["klaviyo"].members["LIST1"]


def test_guard_refuses_a_large_remove_unless_forced(warehouse, standin, secrets):
    config = make_config({"klaviyo": klaviyo_destination(standin.url)}, [state_sync()])
    run(warehouse, config)
    total = len(source_keys(warehouse))
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("delete from marts.sync_test__members where person_id > 'p0000030'")
    removing = total - len(source_keys(warehouse))
    refused = run(warehouse, config)
    assert refused.status == "refused" and refused.removes == removing
    assert "max_remove_share" in refused.error
    assert len(standin["klaviyo"].members["LIST1"]) == total
    forced = run(warehouse, config, force=True)
    assert forced.status == "succeeded"
    assert standin["klaviyo"].members["LIST1"] == source_keys(warehouse)


def test_dry_run_sends_nothing_and_writes_nothing(warehouse, standin, secrets):
    config = make_config({"klaviyo": klaviyo_destination(standin.url)}, [state_sync()])
    report = run(warehouse, config, dry_run=True)
    assert report.status == "dry_run" and report.adds == len(source_keys(warehouse))
    assert 0 < len(report.sample) <= 15 and all(line.startswith("add p") for line in report.sample)
    assert sum(standin.requests.values()) == 0
    assert (
        query(warehouse, "select count(*) from information_schema.schemata where schema_name = 'activation'")[0][0] == 0
    )


def test_batch_with_bad_rows_is_split_and_only_bad_rows_are_rejected_until_they_change(tmp_path, standin, secrets):
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        create_members(conn, 100, bad_every=37)
    destination = klaviyo_destination(standin.url, batch_sizes={"upsert": 50})
    config = make_config({"klaviyo": destination}, [state_sync()])
    report = run(warehouse, config)
    bad = {"p0000037", "p0000074"}
    # Rejected rows are not a success: the run needs attention, and says how many and why.
    assert report.status == "needs_attention" and report.rejected == 2 and report.ok == 98
    assert report.attention_reasons() == ["2 rows rejected by the provider (activation.rejected_rows, send_ledger)"]
    assert standin["klaviyo"].members["LIST1"] == source_keys(warehouse) - bad
    rejected = query(warehouse, "select record_key, http_status, error from activation.rejected_rows order by 1")
    assert [(k, s) for k, s, _ in rejected] == [("p0000037", 400), ("p0000074", 400)]
    assert all("invalid email" in e for _, _, e in rejected)

    again = run(warehouse, config)
    assert again.adds == 0 and again.http_requests == 0 and again.status == "succeeded"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update marts.sync_test__members set email = 'fixed37@example.com' where person_id = 'p0000037'")
    fixed = run(warehouse, config)
    assert fixed.adds == 1 and fixed.ok == 1
    assert query(warehouse, "select record_key from activation.rejected_rows") == [("p0000074",)]
    logged = query(warehouse, "select status, count(*) from activation.sync_log group by 1 order by 1")
    assert dict(logged)["rejected"] == 2 and dict(logged)["ok"] == 99


def test_throttling_storm_and_server_errors_are_retried_without_loss(warehouse, standin, secrets):
    from activation.standins import Fault

    standin.add_fault(Fault("throttle", count=3, retry_after=0.2))
    standin.add_fault(Fault("error", count=2, after=1))
    config = make_config(
        {"klaviyo": klaviyo_destination(standin.url, batch_sizes={"upsert": 10}, max_attempts=8)}, [state_sync()]
    )
    report = run(warehouse, config)
    assert report.status == "succeeded" and report.ok == len(source_keys(warehouse))
    assert report.http_throttled == 3
    assert standin["klaviyo"].members["LIST1"] == source_keys(warehouse)


def test_outage_stops_the_sync_and_the_next_run_finishes_the_work(warehouse, standin, secrets):
    from activation.standins import Fault

    standin.add_fault(Fault("error", count=100, after=2, path_contains="bulk-import"))
    config = make_config(
        {"klaviyo": klaviyo_destination(standin.url, batch_sizes={"upsert": 10}, max_attempts=2)}, [state_sync()]
    )
    broken = run(warehouse, config)
    assert broken.status == "failed" and broken.ok == 20 and "503" in broken.error
    assert query(warehouse, "select status from activation.sync_runs") == [("failed",)]
    standin.faults.clear()
    healed = run(warehouse, config)
    assert healed.status == "succeeded" and healed.adds == len(source_keys(warehouse)) - 20
    assert standin["klaviyo"].members["LIST1"] == source_keys(warehouse)


def test_timeouts_are_retried(warehouse, standin, secrets):
    from activation.standins import Fault

    standin.add_fault(Fault("slow", count=1, seconds=2.5))
    destination = klaviyo_destination(standin.url, timeout_seconds=1, batch_sizes={"upsert": 20})
    report = run(warehouse, make_config({"klaviyo": destination}, [state_sync()]))
    assert report.status == "succeeded" and report.ok == len(source_keys(warehouse))


def test_merge_moves_the_losers_profile_to_the_winner(warehouse, standin, secrets):
    config = make_config({"klaviyo": klaviyo_destination(standin.url)}, [state_sync()])
    run(warehouse, config)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update marts.sync_test__members set person_id = 'p9999999' where person_id = 'p0000007'")
        conn.execute("""create table marts.fct_person_merges as
                        select 'p0000007' as loser_person_id, 'p9999999' as winner_person_id,
                               timestamp '2026-11-19 10:00:00' as merged_at, 'email' as link""")
    report = run(warehouse, config)
    assert report.status == "succeeded" and report.merges == 1
    assert (report.adds, report.removes) == (0, 0)
    assert "p9999999" in standin["klaviyo"].members["LIST1"] and "p0000007" not in standin["klaviyo"].members["LIST1"]
    assert query(warehouse, "select status from activation.merge_state") == [("moved",)]
    assert run(warehouse, config).http_requests == 0


def test_missing_merge_log_and_missing_source_are_reported_not_fatal(warehouse, standin, secrets):
    config = make_config(
        {"klaviyo": klaviyo_destination(standin.url)},
        [state_sync(), state_sync(name="later", source="marts.sync_not_built")],
    )
    ok_report, missing = run(warehouse, config)
    assert ok_report.status == "succeeded"
    assert missing.status == "skipped" and "marts.sync_not_built" in missing.error


def test_duplicate_keys_fail_the_sync_with_a_clear_error(warehouse, standin, secrets):
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("insert into marts.sync_test__members select * from marts.sync_test__members limit 2")
    report = run(warehouse, make_config({"klaviyo": klaviyo_destination(standin.url)}, [state_sync()]))
    assert report.status == "failed" and "2 keys appear more than once" in report.error
    assert sum(standin.requests.values()) == 0


def test_bad_credentials_stop_the_sync_instead_of_splitting(warehouse, standin, secrets):
    destination = {
        "type": "webhook",
        "base_url": standin.url,
        "credentials": {"signing_secret": "TEST_KLAVIYO_KEY"},
        "settings": {"path": "/hook"},
    }
    sync = state_sync(destination="hook")
    report = run(warehouse, make_config({"hook": destination}, [sync]))
    assert report.status == "failed" and "HTTP 401" in report.error
    assert standin.requests["/hook"] == 1


def webhook_config(standin, channels=("email", "sms", "whatsapp", "app_push", "web_push")):
    destination = {
        "type": "webhook",
        "base_url": standin.url,
        "credentials": {"signing_secret": "TEST_WEBHOOK_SECRET"},
        "settings": {"path": "/hook"},
    }
    sync = {
        "name": "all_messages",
        "source": "marts.fct_message_plan",
        "destination": "hook",
        "kind": "message",
        "channels": list(channels),
        "join": {"relation": "marts.dim_persons", "columns": ["email", "phone"]},
    }
    return make_config({"hook": destination}, [sync])


def test_planned_due_messages_are_sent_once_and_recorded_as_events(warehouse, standin, secrets):
    config = webhook_config(standin)
    due = {
        r[0]
        for r in query(
            warehouse,
            "select message_key from marts.fct_message_plan where status = 'planned' and send_after <= ?",
            [NOW],
        )
    }
    report = run(warehouse, config)
    assert report.status == "succeeded" and report.sends == len(due) and report.ok == len(due)
    assert set(standin.deliveries) == due and set(standin.deliveries.values()) == {1}
    events = query(warehouse, "select message_key, event_type, journey, provider from activation.message_events")
    assert {e[0] for e in events} == due and {e[1:] for e in events} == {("sent", "welcome", "webhook")}
    assert run(warehouse, config).sends == 0
    assert set(standin.deliveries.values()) == {1}


def test_message_without_an_address_is_rejected_and_retried_when_it_gets_one(warehouse, standin, secrets):
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update marts.dim_persons set email = null where person_id = 'p1'")
    sync = {
        "name": "email",
        "source": "marts.fct_message_plan",
        "destination": "klaviyo",
        "kind": "message",
        "channels": ["email"],
        "join": {"relation": "marts.dim_persons", "columns": ["email"]},
    }
    config = make_config({"klaviyo": klaviyo_destination(standin.url)}, [sync])
    report = run(warehouse, config)
    assert report.rejected == 1 and report.ok == report.sends - 1 and report.status == "needs_attention"
    ledger = query(warehouse, "select status, error from activation.send_ledger where person_id = 'p1'")
    assert ledger == [("rejected", "no email for this email message")]
    assert run(warehouse, config).sends == 0
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update marts.dim_persons set email = 'p1-new@example.com' where person_id = 'p1'")
    retried = run(warehouse, config)
    assert retried.sends == 1 and retried.ok == 1


def test_message_without_a_template_waits_for_configuration(warehouse, standin, secrets):
    destination = {
        "type": "twilio",
        "base_url": standin.url,
        "credentials": {"account_sid": "TEST_TWILIO_SID", "auth_token": "TEST_TWILIO_TOKEN"},
        "settings": {"from": "+15005550006", "templates": {"win_back": "We miss you"}},
    }
    sync = {
        "name": "sms",
        "source": "marts.fct_message_plan",
        "destination": "twilio",
        "kind": "message",
        "channels": ["sms"],
        "join": {"relation": "marts.dim_persons", "columns": ["phone", "first_name"]},
    }
    report = run(warehouse, make_config({"twilio": destination}, [sync]))
    assert report.skipped == report.sends > 0 and not standin["twilio"].messages
    assert query(warehouse, "select count(*) from activation.send_ledger")[0][0] == 0
    destination["settings"]["templates"] = {"welcome": "Hello {first_name}"}
    sent = run(warehouse, make_config({"twilio": destination}, [sync]))
    assert sent.ok == report.sends
    assert sorted(m["Body"] for m in standin["twilio"].messages)[0].startswith("Hello First")


def test_state_survives_a_full_refresh_of_the_models(warehouse, standin, secrets):
    config = make_config({"klaviyo": klaviyo_destination(standin.url)}, [state_sync()])
    run(warehouse, config)
    with duckdb.connect(str(warehouse)) as conn:
        # What `dbt build --full-refresh` does to a model: drop and recreate it.
        conn.execute("create or replace table marts.sync_test__members as select * from marts.sync_test__members")
    assert run(warehouse, config).http_requests == 0


@pytest.mark.parametrize("text", ["12", "Wed, 21 Oct 2015 07:28:00 GMT"])
def test_retry_after_formats(text):
    import requests

    from activation.http import wait_from_headers

    response = requests.Response()
    response.headers["Retry-After"] = text
    wait = wait_from_headers(response, now_epoch=1445412470.0)
    assert wait == pytest.approx(12.0 if text == "12" else 10.0)


def test_a_missing_credential_fails_the_sync_before_anything_is_recorded_and_loses_nothing(
    warehouse, standin, secrets, monkeypatch
):
    destination = {
        "type": "twilio",
        "base_url": standin.url,
        "credentials": {"account_sid": "TEST_TWILIO_SID", "auth_token": "TEST_TWILIO_TOKEN"},
        "settings": {"from": "+15005550006", "templates": {"default": "Hello {first_name}"}},
    }
    sync = {
        "name": "sms",
        "source": "marts.fct_message_plan",
        "destination": "twilio",
        "kind": "message",
        "channels": ["sms"],
        "join": {"relation": "marts.dim_persons", "columns": ["phone", "first_name"]},
    }
    config = make_config({"twilio": destination}, [sync])
    monkeypatch.delenv("TEST_TWILIO_TOKEN")
    failed = run(warehouse, config)
    assert failed.status == "failed" and failed.error.endswith("environment variable TEST_TWILIO_TOKEN is not set")
    assert secrets["TEST_TWILIO_TOKEN"] not in failed.error
    assert not standin["twilio"].messages
    # No intent was recorded, so nothing is taken for "may have been sent" on the next run.
    assert query(warehouse, "select count(*) from activation.send_ledger")[0][0] == 0
    monkeypatch.setenv("TEST_TWILIO_TOKEN", secrets["TEST_TWILIO_TOKEN"])
    sent = run(warehouse, config)
    assert sent.status == "succeeded" and sent.ok == sent.sends > 0
    assert len(standin["twilio"].messages) == sent.ok
