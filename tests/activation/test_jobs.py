"""Asynchronous imports followed to their end against the stand-in: rows a finished job
failed go to rejected_rows and the sync log; jobs still running are picked up by the next run."""

from __future__ import annotations

import duckdb
import pytest

from activation.engine import run_syncs
from activation.standins import JOB_ERROR_MARK
from tests.activation.conftest import NOW, create_members, klaviyo_destination, make_config, state_sync


def query(warehouse, sql, params=None):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def sendgrid_destination(base_url: str, **overrides) -> dict:
    entry = {
        "type": "sendgrid",
        "base_url": base_url,
        "credentials": {"api_key": "TEST_SENDGRID_KEY"},
        "settings": {"list_id": "00000000-0000-4000-8000-000000000001", "custom_fields": {"loyalty_tier": "e1_T"}},
        "rate_limits": {
            name: {"per_second": 1000, "burst": 100}
            for name in ("contacts", "search", "list_membership", "mail", "jobs")
        },
        "timeout_seconds": 2,
        "max_attempts": 3,
    }
    return entry | overrides


def with_job_errors(warehouse, every: int) -> set[str]:
    """Give every `every`-th member an address the stand-in's import job fails; their keys."""
    with duckdb.connect(str(warehouse)) as conn:
        create_members(conn, 40)
        conn.execute(
            f"update marts.sync_test__members set email = person_id || '{JOB_ERROR_MARK}' "
            f"where cast(substr(person_id, 2) as integer) % {every} = 0"
        )
        return {
            k
            for (k,) in conn.execute(
                "select person_id from marts.sync_test__members where email like ?", [f"%{JOB_ERROR_MARK}"]
            ).fetchall()
        }


@pytest.mark.parametrize("destination", ["klaviyo", "sendgrid"])
def test_rows_a_finished_job_failed_are_rejected_until_they_change(warehouse, standin, secrets, destination):
    failing = with_job_errors(warehouse, every=20)  # p0000020 and p0000040: the first batch of 15 has none
    entry = (klaviyo_destination if destination == "klaviyo" else sendgrid_destination)(
        standin.url, batch_sizes={"upsert": 15}
    )
    config = make_config(
        {destination: entry}, [state_sync(destination=destination, fields=["email", "first_name", "loyalty_tier"])]
    )
    report = run_syncs(warehouse, config, now=NOW)[0]
    assert report.status == "needs_attention" and report.jobs_submitted == 3 and report.jobs_pending == 0
    assert report.job_rows_rejected == len(failing) and report.rejected == len(failing)
    assert report.ok == report.adds - len(failing)
    rejected = query(warehouse, "select record_key, operation, error from activation.rejected_rows")
    assert {k for k, _, _ in rejected} == failing and {op for _, op, _ in rejected} == {"add"}
    expected_error = "not deliverable" if destination == "klaviyo" else "not created by SendGrid's import job"
    assert all(expected_error in error for _, _, error in rejected)
    synced = {k for (k,) in query(warehouse, "select record_key from activation.sync_state")}
    assert not synced & failing and len(synced) == report.adds - len(failing)
    logged = query(warehouse, "select record_key, provider_id from activation.sync_log where status = 'rejected'")
    jobs = dict(query(warehouse, "select job_id, status from activation.provider_jobs"))
    assert {k for k, _ in logged} == failing and {job for _, job in logged} <= set(jobs)
    assert set(jobs.values()) == {"completed", "errored"}
    ((ok, rows_rejected),) = query(warehouse, "select rows_ok, rows_rejected from activation.sync_runs")
    assert (ok, rows_rejected) == (report.ok, report.rejected)

    again = run_syncs(warehouse, config, now=NOW)[0]
    assert (again.adds, again.changes, again.http_requests) == (0, 0, 0)
    fixed = sorted(failing)[0]
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            "update marts.sync_test__members set email = person_id || '@example.com' where person_id = ?", [fixed]
        )
    healed = run_syncs(warehouse, config, now=NOW)[0]
    assert (healed.adds, healed.ok, healed.job_rows_rejected) == (1, 1, 0)
    assert {k for (k,) in query(warehouse, "select record_key from activation.rejected_rows")} == failing - {fixed}


def test_a_change_a_job_fails_keeps_the_key_managed_and_the_next_change_sends_every_field(warehouse, standin, secrets):
    config = make_config({"klaviyo": klaviyo_destination(standin.url)}, [state_sync()])
    run_syncs(warehouse, config, now=NOW)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            f"update marts.sync_test__members set email = 'moved{JOB_ERROR_MARK}' where person_id = 'p0000002'"
        )
    report = run_syncs(warehouse, config, now=NOW)[0]
    assert (report.changes, report.job_rows_rejected) == (1, 1)
    assert query(warehouse, "select operation from activation.rejected_rows") == [("change",)]
    assert query(
        warehouse,
        "select content_hash, cast(payload as varchar) from activation.sync_state where record_key = 'p0000002'",
    ) == [("", "{}")]
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update marts.sync_test__members set email = 'moved@example.com' where person_id = 'p0000002'")
    healed = run_syncs(warehouse, config, dry_run=True, now=NOW)[0]
    (line,) = [entry for entry in healed.sample if entry.startswith("change p0000002")]
    assert all(field in line for field in ("email", "first_name", "loyalty_tier", "consent_email"))


def test_jobs_still_running_at_the_end_are_reconciled_by_the_next_run(warehouse, secrets):
    from activation.standins import Standin

    failing = with_job_errors(warehouse, every=10)
    with Standin(job_checks_pending=3) as standin:
        entry = klaviyo_destination(standin.url, job_wait_seconds=0.1, job_poll_seconds=0.05)
        config = make_config({"klaviyo": entry}, [state_sync(fields=["email", "first_name"])])
        first = run_syncs(warehouse, config, now=NOW)[0]
        assert first.status == "succeeded" and first.jobs_pending == 1 and first.job_rows_rejected == 0
        assert query(warehouse, "select status from activation.provider_jobs") == [("pending",)]
        checks = query(warehouse, "select checks from activation.provider_jobs")[0][0]
        assert 1 <= checks <= 3
        standin.job_checks_pending = 0
        second = run_syncs(warehouse, config, now=NOW)[0]
    # Reconciled before the diff: the failed rows are rejected, not re-sent.
    assert (second.job_rows_rejected, second.jobs_pending, second.adds) == (len(failing), 0, 0)
    # The run that sent the rows reports what finally became of them.
    submitting = query(
        warehouse, "select rows_ok, rows_rejected, jobs_pending from activation.sync_runs where jobs_submitted = 1"
    )
    assert submitting == [(first.ok - len(failing), len(failing), 1)]


def test_waiting_for_jobs_is_bounded(warehouse, secrets):
    from activation.standins import Standin

    with duckdb.connect(str(warehouse)) as conn:
        create_members(conn, 10)
    with Standin(job_checks_pending=10_000) as standin:
        entry = klaviyo_destination(standin.url, job_wait_seconds=0.5, job_poll_seconds=0.1)
        report = run_syncs(warehouse, make_config({"klaviyo": entry}, [state_sync()]), now=NOW)[0]
        checks = standin.jobs[next(iter(standin.jobs))].checks
    assert report.status == "succeeded" and report.jobs_pending == 1
    # Checks after 0, 0.1 and 0.3 s; the next pause (0.4 s) would pass the budget.
    assert 2 <= checks <= 3
