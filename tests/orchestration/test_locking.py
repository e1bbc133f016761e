"""A Dagster run holds the project's warehouse lock, the one `cdp build` and `cdp sync` take."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import asset, instance_for_test, materialize

from orchestration.definitions import defs
from orchestration.locking import WarehouseLock

PROJECT = Path(__file__).resolve().parents[2]

# Holds the lock as `cdp build` would until its stdin closes; touches a file once it holds it.
HOLD_THE_LOCK = """
import pathlib, sys
from cdp.warehouse import warehouse_lock
with warehouse_lock("cdp build", pathlib.Path(sys.argv[1])):
    pathlib.Path(sys.argv[2]).touch()
    sys.stdin.read()
"""

# Tries the lock once, without waiting, and prints what happened.
TRY_THE_LOCK = """
import os, pathlib, sys
os.environ["CDP_LOCK_TIMEOUT_SECONDS"] = "0"
from cdp.warehouse import WarehouseLockedError, warehouse_lock
try:
    with warehouse_lock("cdp sync", pathlib.Path(sys.argv[1])):
        print("free")
except WarehouseLockedError as error:
    print(error)
"""


def test_every_step_that_opens_the_warehouse_takes_the_lock():
    from orchestration.settings import WAREHOUSE_POOL

    job = defs.resolve_job_def("cdp_refresh_and_sync")
    in_pool = [node.definition for node in job.graph.node_dict.values() if node.definition.pool == WAREHOUSE_POOL]
    assert in_pool
    assert [op.name for op in in_pool if "warehouse_lock" not in op.required_resource_keys] == []


@pytest.fixture
def warehouse(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "cdp.duckdb"
    monkeypatch.setenv("CDP_WAREHOUSE", str(path))
    monkeypatch.delenv("CDP_DBT_TARGET", raising=False)
    return path


def _run(asset_def):
    with instance_for_test() as instance:
        return materialize(
            [asset_def], instance=instance, resources={"warehouse_lock": WarehouseLock()}, raise_on_error=False
        )


def test_a_run_waits_for_a_build_and_names_it_when_it_gives_up(warehouse, tmp_path, monkeypatch):
    @asset
    def needs_the_warehouse(warehouse_lock: WarehouseLock) -> None:
        raise AssertionError("ran while `cdp build` held the warehouse")

    held = tmp_path / "held"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(warehouse), str(held)], cwd=PROJECT, stdin=subprocess.PIPE
    )
    try:
        while not held.exists():
            assert holder.poll() is None, "the lock holder ended early"
            time.sleep(0.05)
        monkeypatch.setenv("CDP_LOCK_TIMEOUT_SECONDS", "0.5")
        result = _run(needs_the_warehouse)
    finally:
        holder.communicate(timeout=30)
    assert not result.success
    failures = [event for event in result.all_events if event.is_failure or event.event_type_value == "RUN_FAILURE"]
    message = " ".join(str(event.event_specific_data) for event in failures)
    assert "`cdp build`" in message and f"PID {holder.pid}" in message


def test_the_run_holds_the_lock_while_it_works_and_lets_it_go(warehouse, tmp_path):
    seen: list[str] = []

    @asset
    def tries_the_lock_from_elsewhere(warehouse_lock: WarehouseLock) -> None:
        attempt = subprocess.run(
            [sys.executable, "-c", TRY_THE_LOCK, str(warehouse)], cwd=PROJECT, capture_output=True, text=True
        )
        seen.append(attempt.stdout.strip())

    result = _run(tries_the_lock_from_elsewhere)
    assert result.success
    assert len(seen) == 1 and "in use by `dagster run " in seen[0] and result.run_id in seen[0]
    after = subprocess.run(
        [sys.executable, "-c", TRY_THE_LOCK, str(warehouse)], cwd=PROJECT, capture_output=True, text=True
    )
    assert after.stdout.strip() == "free"
