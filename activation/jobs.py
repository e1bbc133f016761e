"""Asynchronous imports: follow each provider job to its end and reconcile the rows it failed.

Klaviyo's bulk profile import and SendGrid's contact upsert acknowledge a request (202)
and process its rows later; the acknowledgement says nothing about the rows. Each
acknowledged job is recorded in activation.provider_jobs in the same transaction as the
state of its rows (StateStore.record_batch). A state sync checks the jobs still pending
before it computes its diff (so a row a job failed is not counted as synced) and again
after it delivered, waiting up to the destination's `job_wait_seconds`; what is still
running then is checked by the next run.

A row a finished job failed is treated like a row refused at once (StateStore.finish_job
says how): it is rejected until its content changes.
"""

from __future__ import annotations

import time

from activation.config_schema import SyncConfig
from activation.destinations.base import Destination, Job, JobResult, Record
from activation.http import PermanentError, TransientError, carried_values, mask_personal
from activation.report import SyncReport
from activation.state import PendingJob, StateStore, utc_now

_MAX_PAUSE_SECONDS = 30.0


def check_jobs(
    store: StateStore, sync: SyncConfig, destination: Destination, run_id: str, report: SyncReport, wait: bool
) -> None:
    """Check the sync's pending jobs once, or (wait) until they finish or the budget is spent."""
    config = destination.config
    budget = config.job_wait_seconds if wait else 0.0
    deadline = time.monotonic() + budget
    pause = max(config.job_poll_seconds, 0.01)
    while True:
        if wait and budget <= 0:
            break
        for job in store.pending_jobs(sync):
            try:
                _check_job(store, sync, destination, run_id, report, job)
            except TransientError as error:
                # The provider is unavailable; the rows were acknowledged, their jobs wait for the next run.
                report.error = f"job checks stopped: {error}"
                wait = False
                break
        if not wait or time.monotonic() + pause > deadline or not store.pending_job_count(sync):
            break
        time.sleep(pause)
        pause = min(pause * 2, _MAX_PAUSE_SECONDS)
    report.jobs_pending = store.pending_job_count(sync)


def _check_job(
    store: StateStore, sync: SyncConfig, destination: Destination, run_id: str, report: SyncReport, job: PendingJob
) -> None:
    current = store.job_payloads(sync, job)
    # A row sent again since (by a later run) is no longer this job's to judge: its fields are None.
    records = [Record(key=key, fields=current.get(key)) for key in job.keys]
    try:
        result = destination.check_job(Job(job_id=job.job_id, records=records))
    except PermanentError as error:
        if error.status != 404:
            raise
        # The provider no longer knows the job (it keeps them for a while only): its rows stay synced.
        result = JobResult(status="unknown", detail=f"the provider no longer knows this job ({error})")
    now = utc_now()
    if result.status == "pending":
        store.record_job_check(sync, job.job_id, now)
        return
    # A job's error report may quote the rows it failed: masked with what the job carried.
    carried = carried_values([record.fields for record in records])
    detail = mask_personal(result.detail, carried) if result.detail else None
    if result.status == "failed":
        rejected = {key: detail or "the provider failed the import job" for key in current}
    else:
        rejected = {key: mask_personal(error, carried) for key, error in result.rejected.items() if key in current}
    store.finish_job(sync, job, result.status, result.rows_failed, detail, rejected, run_id, now)
    report.job_rows_rejected += len(rejected)
    if job.submitted_by == run_id:
        report.ok -= len(rejected)
        report.rejected += len(rejected)
