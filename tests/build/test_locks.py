"""The warehouse lock: a second writer waits, then says who holds the warehouse; a build holds it throughout."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from cdp.warehouse import LOCK_TIMEOUT_ENV, DuckDBWarehouse, WarehouseLockedError, lock_file, warehouse_lock


def hold(code: str, ready: Path) -> subprocess.Popen:
    """Run ``code`` in another process; return once it has written ``ready``."""
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=Path(__file__).parents[2])
    for _ in range(300):
        if ready.exists():
            return process
        time.sleep(0.05)
    process.kill()
    raise AssertionError("the holding process did not start")


def hold_project_lock(warehouse: Path, ready: Path, seconds: float, shared: bool = False) -> subprocess.Popen:
    """Hold the lock for ``seconds``; the last thing done while holding it is to write ``<ready>.releasing``."""
    return hold(
        f"""
        import time
        from pathlib import Path
        from cdp.warehouse import warehouse_lock
        with warehouse_lock("cdp build", Path({str(warehouse)!r}), shared={shared}):
            Path({str(ready)!r}).touch()
            time.sleep({seconds})
            Path({str(ready)!r} + ".releasing").touch()
        """,
        ready,
    )


def test_a_second_writer_gives_up_after_the_timeout_naming_the_command_and_pid(tmp_path, monkeypatch):
    warehouse = tmp_path / "cdp.duckdb"
    holder = hold_project_lock(warehouse, tmp_path / "ready", seconds=30)
    try:
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0.5")
        with pytest.raises(WarehouseLockedError) as error, warehouse_lock("cdp sync", warehouse):
            pass
        message = str(error.value)
        assert message.startswith(f"{warehouse}: in use by `cdp build` (PID {holder.pid}, since ")
        assert f"waited 0.5 s (env {LOCK_TIMEOUT_ENV})" in message
    finally:
        holder.kill()
        holder.wait()


def test_a_second_writer_waits_for_the_first_to_finish(tmp_path, monkeypatch):
    warehouse = tmp_path / "cdp.duckdb"
    holder = hold_project_lock(warehouse, tmp_path / "ready", seconds=1)
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "60")
    with warehouse_lock("cdp sync", warehouse):
        assert (tmp_path / "ready.releasing").exists(), "the lock was granted while the first writer still held it"
    holder.wait()
    assert lock_file(warehouse).read_text() == "", "the holder's note outlived its lock"


def test_readers_share_the_lock_and_keep_writers_out(tmp_path, monkeypatch):
    warehouse = tmp_path / "cdp.duckdb"
    holder = hold_project_lock(warehouse, tmp_path / "ready", seconds=30, shared=True)
    try:
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0.3")
        with warehouse_lock("cdp explain", warehouse, shared=True):
            pass
        with pytest.raises(WarehouseLockedError, match="in use by readers"), warehouse_lock("cdp build", warehouse):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_the_lock_is_reentrant_within_one_process(tmp_path, monkeypatch):
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0")
    with warehouse_lock("cdp build", tmp_path / "cdp.duckdb"), warehouse_lock("cdp build", tmp_path / "cdp.duckdb"):
        pass


def test_a_duckdb_connection_held_elsewhere_is_waited_for_then_named_by_pid(tmp_path, monkeypatch):
    warehouse = tmp_path / "cdp.duckdb"
    duckdb.connect(str(warehouse)).close()
    holder = hold(
        f"""
        import time, duckdb
        from pathlib import Path
        conn = duckdb.connect({str(warehouse)!r})
        Path({str(tmp_path / "ready")!r}).touch()
        time.sleep(30)
        """,
        tmp_path / "ready",
    )
    try:
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0.5")
        with pytest.raises(WarehouseLockedError) as error:
            DuckDBWarehouse(warehouse)
        assert str(error.value).startswith(f"{warehouse}: in use by process {holder.pid} ")
    finally:
        holder.kill()
        holder.wait()
    DuckDBWarehouse(warehouse).close()


def test_an_unreadable_timeout_is_an_error_naming_the_setting(tmp_path, monkeypatch):
    monkeypatch.setenv(LOCK_TIMEOUT_ENV, "soon")
    with (
        pytest.raises(ValueError, match=f"env {LOCK_TIMEOUT_ENV}: 'soon'"),
        warehouse_lock("cdp build", tmp_path / "w"),
    ):
        pass


def test_cdp_build_holds_the_lock_from_the_load_to_the_last_step(tmp_path, monkeypatch):
    from cdp import build as build_module

    monkeypatch.setenv("CDP_WAREHOUSE", str(tmp_path / "cdp.duckdb"))
    probe = textwrap.dedent(
        f"""
        import os, sys
        from pathlib import Path
        from cdp.warehouse import WarehouseLockedError, warehouse_lock
        os.environ["{LOCK_TIMEOUT_ENV}"] = "0"
        try:
            with warehouse_lock("cdp sync", Path({str(tmp_path / "cdp.duckdb")!r})):
                sys.exit(0)
        except WarehouseLockedError as error:
            print(error)
            sys.exit(3)
        """
    )
    seen: list[str] = []

    class Probe:
        name = "lock probe"

        def run(self, context):
            result = subprocess.run(
                [sys.executable, "-c", probe], cwd=Path(__file__).parents[2], capture_output=True, text=True
            )
            seen.append(result.stdout if result.returncode == 3 else f"lock free (exit {result.returncode})")

    monkeypatch.setattr(build_module, "build_plan", lambda steps: [Probe(), Probe()])
    (tmp_path / "raw").mkdir()
    build_module.build(raw_dir=tmp_path / "raw", as_of=build_module.parse_as_of("2026-11-20T09:00:00Z"))
    assert len(seen) == 2
    assert all(f"in use by `cdp build` (PID {os.getpid()}" in line for line in seen), seen


def test_a_command_that_waits_in_vain_prints_one_line_saying_who_holds_the_warehouse(tmp_path, monkeypatch, capsys):
    from cdp import cli

    warehouse = tmp_path / "cdp.duckdb"
    monkeypatch.setenv("CDP_WAREHOUSE", str(warehouse))
    holder = hold_project_lock(warehouse, tmp_path / "ready", seconds=30)
    try:
        monkeypatch.setenv(LOCK_TIMEOUT_ENV, "0.3")
        assert cli.main(["explain", "someone@example.com"]) == 2
        error = capsys.readouterr().err
        assert error.startswith(f"cdp explain: {warehouse}: in use by `cdp build` (PID {holder.pid}, since ")
        assert error.count("\n") == 1
    finally:
        holder.kill()
        holder.wait()
