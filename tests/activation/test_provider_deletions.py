"""An erased person is deleted at every destination that has a delete or privacy operation,
from what activation state kept (the warehouse no longer has the person's data), retried
until the provider confirmed, and then forgotten."""

from __future__ import annotations

import duckdb

from activation.engine import run_syncs
from activation.standins import Fault
from tests.activation.conftest import NOW, create_members, klaviyo_destination, make_config, state_sync
from tests.activation.test_jobs import sendgrid_destination

ERASED = ("p0000002", "p0000005")


def onesignal_destination(base_url: str) -> dict:
    return {
        "type": "onesignal",
        "base_url": base_url,
        "credentials": {"api_key": "TEST_ONESIGNAL_KEY"},
        "settings": {"app_id": "00000000-0000-4000-8000-000000000000"},
        "rate_limits": {name: {"per_second": 1000, "burst": 100} for name in ("users", "notifications")},
        "max_attempts": 2,
        "timeout_seconds": 2,
    }


def config(standin):
    syncs = [
        state_sync(name="klaviyo_members", fields=["email", "phone", "first_name"]),
        state_sync(name="sendgrid_contacts", destination="sendgrid", fields=["email", "first_name"]),
        state_sync(name="onesignal_users", destination="onesignal", fields=["loyalty_tier"]),
    ]
    destinations = {
        "klaviyo": klaviyo_destination(
            standin.url, rate_limits={"privacy": {"per_second": 1000, "burst": 100}}, max_attempts=2
        ),
        "sendgrid": sendgrid_destination(standin.url, max_attempts=2),
        "onesignal": onesignal_destination(standin.url),
    }
    return make_config(destinations, syncs, merge_log=None)


def erase(warehouse) -> None:
    """What the warehouse side of an erasure leaves: the flag, and the person's data gone."""
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            "create or replace table marts.dim_persons as "
            "select person_id, person_id in $erased as is_erased from marts.sync_test__members",
            {"erased": list(ERASED)},
        )
        conn.execute("delete from marts.sync_test__members where person_id in $erased", {"erased": list(ERASED)})


def deletions(warehouse):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(
            "select sync_name, record_key, status, cast(address as varchar), attempts "
            "from activation.provider_deletions order by 1, 2"
        ).fetchall()


def test_erased_persons_are_deleted_at_each_provider_and_then_forgotten(tmp_path, standin, secrets):
    warehouse = tmp_path / "w.duckdb"
    with duckdb.connect(str(warehouse)) as conn:
        create_members(conn, 8)
    settings = config(standin)
    first = run_syncs(warehouse, settings, now=NOW)
    assert all(r.status == "succeeded" for r in first), [(r.sync, r.attention_reasons(), r.error) for r in first]
    assert {"p2@example.com", "p5@example.com"} <= set(standin["sendgrid"].contacts)
    assert set(ERASED) <= set(standin["onesignal"].users) and set(ERASED) <= set(standin["klaviyo"].profiles)

    erase(warehouse)
    # OneSignal is down for this run: its deletions wait, the others go through.
    standin.add_fault(Fault("error", count=2, path_contains="/users/by/external_id/"))  # both attempts
    reports = {r.sync: r for r in run_syncs(warehouse, settings, now=NOW)}
    assert (reports["klaviyo_members"].deletions_done, reports["sendgrid_contacts"].deletions_done) == (2, 2)
    assert reports["onesignal_users"].status == "needs_attention"
    assert reports["onesignal_users"].deletions_pending == 1  # it stops at the first failure
    # The removes the mirror would have sent are not sent: the profiles are deleted instead.
    assert all(r.removes == 0 for r in reports.values())
    assert standin["klaviyo"].deleted == [{"email": "p2@example.com"}, {"email": "p5@example.com"}]
    assert not set(ERASED) & set(standin["klaviyo"].profiles)
    assert not {"p2@example.com", "p5@example.com"} & set(standin["sendgrid"].contacts)
    assert set(ERASED) <= set(standin["onesignal"].users)
    state = deletions(warehouse)
    done = [row for row in state if row[2] == "done"]
    assert len(done) == 4 and all(address is None for *_, address, _ in done)  # nothing personal kept
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        left = conn.execute(
            "select count(*) from activation.sync_state where record_key in $erased", {"erased": list(ERASED)}
        ).fetchone()[0]
    assert left == 0

    # The next run retries what is pending, without any personal value: OneSignal deletes by our key.
    healed = {r.sync: r for r in run_syncs(warehouse, settings, now=NOW)}
    assert healed["onesignal_users"].status == "succeeded" and healed["onesignal_users"].deletions_done == 2
    assert not set(ERASED) & set(standin["onesignal"].users)
    assert {row[2] for row in deletions(warehouse)} == {"done"}
    # And an erased person is never synced again, even if a source still has the row.
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            "insert into marts.sync_test__members (person_id, email, first_name, loyalty_tier) "
            "values ('p0000002', 'p2@example.com', 'First2', 'silver')"
        )
    again = {r.sync: r for r in run_syncs(warehouse, settings, now=NOW)}
    assert all(r.adds == 0 and r.deletions_done == 0 for r in again.values())
