"""Every call from the Dagster definitions into activation, in one module.

The sync assets run exactly what `cdp sync` runs: activation.yml read by
`activation.config.load_config`, one sync at a time through `activation.engine.run_syncs`
(diff in the warehouse, send ledger, outcomes written back), or, against the local
provider stand-ins with demo credentials, through `cdp.sync_cli.sync_to_standins` as
`cdp sync --stand-in` and `make demo` do.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from dagster import ConfigurableResource, EnvVar, InitResourceContext, MetadataValue
from pydantic import Field

from activation.config import ActivationConfig, SyncConfig, load_config
from activation.engine import SyncReport, run_syncs
from cdp.clock import is_demo_data
from cdp.paths import warehouse_path
from cdp.sync_cli import (
    activation_config_path,
    load_activation_config,
    phone_normaliser,
    project_file,
    sync_to_standins,
)
from orchestration.settings import raw_dir

# "true": syncs go to the local provider stand-ins (nothing leaves 127.0.0.1), "false":
# to the providers. Unset: stand-ins for the bundled demo data, providers otherwise.
STAND_INS_VARIABLE = "CDP_SYNC_STAND_INS"


def activation_config() -> ActivationConfig:
    return load_activation_config()


def relation_model(relation: str) -> str:
    """The dbt model behind a `schema.relation` of activation.yml."""
    return relation.split(".", 1)[1]


def relations_read(config: ActivationConfig, sync: SyncConfig) -> list[str]:
    """What a sync reads from the warehouse: its source, a joined relation, the merge log (state syncs)."""
    relations = [sync.source]
    if sync.join:
        relations.append(sync.join.relation)
    if sync.kind == "state" and config.merge_log:
        relations.append(config.merge_log)
    return relations


def credential_variables(config: ActivationConfig) -> list[str]:
    """The environment variables activation.yml names for the destinations' credentials."""
    return sorted({variable for d in config.destinations.values() for variable in d.credentials.values()})


def use_stand_ins() -> bool:
    configured = os.environ.get(STAND_INS_VARIABLE, "").strip().lower()
    if configured in ("true", "1", "yes"):
        return True
    if configured in ("false", "0", "no"):
        return False
    if configured:
        raise ValueError(f"{STAND_INS_VARIABLE} must be true or false, got {configured!r}")
    return is_demo_data(raw_dir())


class ActivationResource(ConfigurableResource):
    """The syncs of activation.yml, run by activation's engine, as `cdp sync` runs them."""

    config_path: str = Field(description="The activation configuration (activation.yml).")
    stand_ins: bool = Field(
        default=False,
        description="Send to local provider stand-ins on 127.0.0.1 with demo credentials (cdp sync --stand-in).",
    )
    credentials: dict[str, str] = Field(
        default_factory=dict,
        description="Credential environment variable -> value (EnvVar), as activation.yml names them.",
    )

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[ActivationResource]:
        # The engine reads each credential from the variable activation.yml names: the
        # resolved values are put there for the step, and what was there before comes back.
        previous = {name: os.environ.get(name) for name in self.credentials}
        os.environ.update(self.credentials)
        try:
            yield self
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value

    def run_sync(self, name: str, now: datetime, force: bool) -> tuple[SyncReport, dict[str, int] | None]:
        """Run the sync ``name``; the report, and what the stand-ins received when they were used."""
        config = load_config(Path(self.config_path), project_file())
        only = config.model_copy(update={"syncs": tuple(sync for sync in config.syncs if sync.name == name)})
        if not only.syncs:
            raise ValueError(f"sync {name!r} is not in {self.config_path}")
        if self.stand_ins:
            run = sync_to_standins(only, now=now, force=force)
            return run.reports[0], run.holdings
        return run_syncs(warehouse_path(), only, now=now, force=force, phone_to_e164=phone_normaliser())[0], None


def activation_resource() -> ActivationResource:
    config = activation_config()
    if use_stand_ins():
        return ActivationResource(config_path=str(activation_config_path()), stand_ins=True)
    return ActivationResource(
        config_path=str(activation_config_path()),
        credentials={variable: EnvVar(variable) for variable in credential_variables(config)},
    )


# What a sync asset shows: the counts of the report (no row, address or secret).
REPORT_COUNTS = {
    "adds": "adds",
    "changes": "changes",
    "removes": "removes",
    "sends": "sends",
    "ok": "rows ok",
    "rejected": "rows rejected",
    "failed": "rows failed",
    "unknown": "rows unknown (may have been sent; never repeated)",
    "skipped": "rows skipped",
    "invalid": "source rows without a key",
    "cancelled": "messages cancelled (consent revoked before send)",
    "deletions_done": "provider deletions confirmed",
    "deletions_pending": "provider deletions pending (retried next run)",
    "merges": "merges moved",
    "http_requests": "requests",
    "http_throttled": "requests answered 429",
    "jobs_submitted": "import jobs submitted",
    "jobs_pending": "import jobs still running",
    "job_rows_rejected": "rows failed by an import job",
}


def report_metadata(report: SyncReport, holdings: dict[str, int] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        label: MetadataValue.int(int(getattr(report, field))) for field, label in REPORT_COUNTS.items()
    }
    metadata["status"] = MetadataValue.text(report.status)
    metadata["destination"] = MetadataValue.text(f"{report.destination} ({report.kind}, {report.mode})")
    if holdings is not None:
        metadata["sent to"] = MetadataValue.text("local provider stand-ins (127.0.0.1, demo credentials)")
    if report.error:
        metadata["error"] = MetadataValue.text(report.error)
    return metadata


def failure_reason(report: SyncReport) -> str | None:
    """Why the sync failed or partly failed; None when every row went through."""
    if report.status in ("failed", "refused"):
        hint = " (run it with force: true to accept the removes)" if report.status == "refused" else ""
        return f"sync {report.status}: {report.error or 'no reason recorded'}{hint}"
    if report.status == "skipped":
        return f"sync skipped: {report.error}"
    problems = [
        f"{count:,} {label}"
        for count, label in (
            (report.failed, "rows failed"),
            (report.rejected, "rows rejected by the provider (activation.rejected_rows)"),
            (report.unknown, "rows in an unknown state (may have been sent)"),
            (report.job_rows_rejected, "rows failed by an import job"),
            (report.deletions_pending, "provider deletions still pending"),
        )
        if count
    ]
    if problems:
        return "sync partly failed: " + ", ".join(problems)
    if report.status == "needs_attention":
        return "sync needs attention: " + "; ".join(report.attention_reasons())
    return None
