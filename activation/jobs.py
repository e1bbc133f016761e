"""Asynchronous imports: follow each provider job to its end and reconcile the rows it failed.

Klaviyo's bulk profile import and SendGrid's contact upsert acknowledge a request (202)
and process its rows later; the acknowledgement says nothing about the rows. Each
acknowledged job is recorded in activation.provider_jobs in the same transaction as the
state of its rows. A state sync checks the jobs still pending before it computes its
diff (so a row a job failed is not counted as synced) and again after it delivered,
waiting up to the destination's `job_wait_seconds`; what is still running then is checked
by the next run.

A row a finished job failed is treated like a row refused at once: it goes to
activation.rejected_rows with the provider's error, a `rejected` line goes to the sync
log, and it is retried only once its content changes. Its state row goes too (an add
never landed); for a change the provider still holds an older version that we no
longer know, so the key stays managed (a mirror remove still takes it out) with an empty
payload, and the next change sends every field.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

import pyarrow as pa

from activation.destinations.base import Job, JobResult, Record
from activation.http import PermanentError, TransientError

if TYPE_CHECKING:
    from activation.engine import StateSync

FINISHED = ("completed", "errored", "failed")
_MAX_PAUSE_SECONDS = 30.0
_REJECTS_SCHEMA = pa.schema([("record_key", pa.string()), ("error", pa.string())])


def register_jobs(run: StateSync, batch: str, params: dict) -> None:
    """Record the jobs that carried this batch's acknowledged rows (inside the batch's commit)."""
    run.conn.execute(f"""
        insert into activation.provider_jobs (sync_name, job_id, destination, sync_run_id, record_keys, submitted_at, status)
        select $sync, o.provider_id, $destination, $run, to_json(list(d.record_key order by d.seq)), $now, 'pending'
        from act_outcome o join {batch} d using (seq)
        where o.status = 'ok' and d.operation in ('add', 'change') and o.provider_id is not null
        group by o.provider_id
        on conflict do nothing
    """, params | {"destination": run.sync.destination})


def check_jobs(run: StateSync, wait: bool) -> None:
    """Check the sync's pending jobs once, or (wait) until they finish or the budget is spent."""
    config = run.destination.config
    budget = config.job_wait_seconds if wait else 0.0
    deadline = time.monotonic() + budget
    pause = max(config.job_poll_seconds, 0.01)
    while True:
        if wait and budget <= 0:
            break
        pending = run.conn.execute(
            "select job_id, sync_run_id, cast(record_keys as varchar) from activation.provider_jobs "
            "where sync_name = ? and status = 'pending' order by submitted_at, job_id",
            [run.sync.name],
        ).fetchall()
        for job_id, submitted_by, keys in pending:
            try:
                _check_job(run, job_id, submitted_by, json.loads(keys))
            except TransientError as error:
                # The provider is unavailable; the rows were acknowledged, their jobs wait for the next run.
                run.report.error = f"job checks stopped: {error}"
                wait = False
                break
        if not wait or time.monotonic() + pause > deadline or not _pending_count(run):
            break
        time.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE_SECONDS)
    run.report.jobs_pending = _pending_count(run)


def _pending_count(run: StateSync) -> int:
    return run.conn.execute(
        "select count(*) from activation.provider_jobs where sync_name = ? and status = 'pending'", [run.sync.name]
    ).fetchall()[0][0]


def _check_job(run: StateSync, job_id: str, submitted_by: str, keys: list[str]) -> None:
    conn, sync = run.conn, run.sync
    # Rows the job still speaks for: their state is still what this job carried.
    current = dict(conn.execute("""
        select record_key, cast(payload as varchar) from activation.sync_state
        where sync_name = ? and last_sync_run_id = ? and provider_id = ? and record_key in (select unnest(?))
    """, [sync.name, submitted_by, job_id, keys]).fetchall())
    records = [Record(key=key, fields=json.loads(current[key]) if key in current else None) for key in keys]
    try:
        result = run.destination.check_job(Job(job_id=job_id, records=records))
    except PermanentError as error:
        if error.status != 404:
            raise
        # The provider no longer knows the job (it keeps them for a while only): its rows stay synced.
        result = JobResult(status="unknown", detail=f"the provider no longer knows this job ({error})")
    from activation.engine import utc_now

    now = utc_now()
    if result.status == "pending":
        conn.execute(
            "update activation.provider_jobs set checks = checks + 1, last_checked_at = ? where sync_name = ? and job_id = ?",
            [now, sync.name, job_id],
        )
        return
    if result.status == "failed":
        rejected = {key: result.detail or "the provider failed the import job" for key in current}
    else:
        rejected = {key: error for key, error in result.rejected.items() if key in current}
    rows = [{"record_key": key, "error": error[:500]} for key, error in rejected.items()]
    params = {"sync": sync.name, "job": job_id, "submitted_by": submitted_by, "run": run.run_id, "now": now}

    def work() -> None:
        if rows:
            _reject_rows(run, params)
        conn.execute("""
            update activation.provider_jobs set status = ?, rows_failed = ?, rows_rejected = ?, checks = checks + 1,
                   last_checked_at = ?, finished_at = ?, error = ?
            where sync_name = ? and job_id = ?
        """, [result.status, result.rows_failed, len(rows), now, now, result.detail, sync.name, job_id])
        if rows:
            # The run that sent the rows reports what finally became of them.
            conn.execute(
                "update activation.sync_runs set rows_ok = rows_ok - ?, rows_rejected = rows_rejected + ? where sync_run_id = ?",
                [len(rows), len(rows), submitted_by],
            )

    run.engine._register("act_job_rejects", rows, _REJECTS_SCHEMA)
    try:
        run.engine._transaction(work)
    finally:
        conn.unregister("act_job_rejects")
    run.report.job_rows_rejected += len(rows)
    if submitted_by == run.run_id:
        run.report.ok -= len(rows)
        run.report.rejected += len(rows)


def _reject_rows(run: StateSync, params: dict) -> None:
    conn = run.conn
    operations = """(select record_key, any_value(operation) as operation from activation.sync_log
                     where sync_run_id = $submitted_by and sync_name = $sync and provider_id = $job and status = 'ok'
                     group by record_key)"""
    conn.execute(f"""
        insert into activation.sync_log
        select $run, $sync, r.record_key, coalesce(o.operation, 'change'), 'rejected', r.error, null, null, $job, $now
        from act_job_rejects r left join {operations} o using (record_key)
    """, params)
    conn.execute(f"""
        insert or replace into activation.rejected_rows
        select $sync, r.record_key, s.content_hash, coalesce(o.operation, 'change'), r.error, null, $now, $run
        from act_job_rejects r
        join activation.sync_state s on s.sync_name = $sync and s.record_key = r.record_key
        left join {operations} o on o.record_key = r.record_key
    """, params)
    conn.execute(f"""
        delete from activation.sync_state where sync_name = $sync and record_key in (
            select r.record_key from act_job_rejects r join {operations} o using (record_key) where o.operation = 'add')
    """, {k: params[k] for k in ("sync", "job", "submitted_by")})
    conn.execute("""
        update activation.sync_state set content_hash = '', payload = '{}'
        where sync_name = $sync and record_key in (select record_key from act_job_rejects)
    """, {"sync": params["sync"]})
