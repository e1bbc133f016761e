"""The project's warehouse lock, held by a Dagster run from its first step to its last.

`cdp build` and `cdp sync` work under `cdp.warehouse.warehouse_lock`. Every Dagster step
that opens the warehouse takes the `warehouse_lock` resource, and the in-process
executor initialises a run's resources once, so a run takes the same lock before its
first such step and lets it go after its last. A `cdp build` started meanwhile waits
for the run (and names it when it gives up); a run waits for a `cdp build` instead of
failing on DuckDB's file lock or slipping a refresh between two of the build's stages.
Spark has no lock file, as on the command line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import ConfigurableResource, InitResourceContext

from cdp.warehouse import warehouse_lock
from orchestration.settings import dbt_target


class WarehouseLock(ConfigurableResource):
    """Holds the lock `cdp build` and `cdp sync` take, for the whole run; waits up to
    CDP_LOCK_TIMEOUT_SECONDS for another holder."""

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[WarehouseLock]:
        if dbt_target() == "spark":
            yield self
            return
        with warehouse_lock(f"dagster run {context.run_id}"):
            yield self
