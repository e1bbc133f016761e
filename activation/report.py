"""What one run of one sync did: what `cdp sync` prints and activation.sync_runs records.

A run's status says whether anyone must look at it. `succeeded` means every row went
through; a run that went to its end with rows the provider rejected, rows that failed or
rows whose outcome stays unknown is `needs_attention`, never `succeeded`, and its report
says how many and why (attention_reasons). `failed` is a run that stopped on an error or
left rows the provider never took (unavailable); `refused` is the remove guard.
exit_code turns the statuses of one `cdp sync` into its exit code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Statuses after which nothing needs a person: what `cdp sync` exits 0 on.
CLEAN_STATUSES = frozenset({"succeeded", "skipped", "dry_run"})
EXIT_FAILED = 1  # a sync failed or was refused
EXIT_NEEDS_ATTENTION = 3  # every sync ran, but rows were rejected, failed or stay unknown (2 is a usage error)


@dataclass
class SyncReport:
    sync: str
    destination: str
    kind: str
    mode: str
    status: str = "running"  # running, succeeded, needs_attention, failed, refused, skipped, dry_run
    adds: int = 0
    changes: int = 0
    removes: int = 0
    sends: int = 0
    merges: int = 0
    managed: int = 0  # keys this sync had synced before the run
    ok: int = 0
    rejected: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    invalid: int = 0  # source rows without a key: reported, never sent
    cancelled: int = 0  # messages whose person revoked consent after the plan: recorded, never sent
    deletions_done: int = 0  # erased persons the provider was asked to delete, confirmed
    deletions_pending: int = 0  # erased persons whose deletion failed this run (retried next run)
    http_requests: int = 0
    http_throttled: int = 0
    jobs_submitted: int = 0
    jobs_pending: int = 0  # asynchronous imports not finished when the run ended
    job_rows_rejected: int = 0  # rows finished jobs failed, reconciled by this run
    error: str | None = None
    # Keys and changed field names (or per-channel counts): enough to judge a sync, no personal values.
    sample: list[str] = field(default_factory=list)

    def attention_reasons(self) -> list[str]:
        """What keeps a finished run from `succeeded`, each with its count; empty when nothing does."""
        reasons = (
            (self.rejected, "rows rejected by the provider (activation.rejected_rows, send_ledger)"),
            (self.failed, "rows failed (the provider stayed unavailable; retried next run)"),
            (self.unknown, "rows with an unknown outcome (may have been sent; never repeated)"),
            (self.job_rows_rejected, "rows failed by an import job"),
            (self.deletions_pending, "erased persons not yet deleted at the provider (retried next run)"),
        )
        return [f"{count:,} {label}" for count, label in reasons if count]

    def finished_status(self) -> str:
        """The status of a run that went to its end: rows the provider never took make it `failed`."""
        if self.failed:
            return "failed"
        return "needs_attention" if self.attention_reasons() else "succeeded"


def exit_code(reports: Iterable[SyncReport]) -> int:
    """0 when every sync is clean, 1 when one failed or was refused, else 3 when one needs attention."""
    statuses = {report.status for report in reports}
    if statuses & {"failed", "refused"}:
        return EXIT_FAILED
    return 0 if statuses <= CLEAN_STATUSES else EXIT_NEEDS_ATTENTION
