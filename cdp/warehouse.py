"""The few warehouse operations the Python side of the build needs, per target.

dbt does the modelling on either target; Python only lands raw tables and reads
results back. DuckDB is the default (one embedded file); Spark is the local session the
`spark` dbt target uses.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import duckdb
import pyarrow as pa

if TYPE_CHECKING:
    import pandas as pd

LOCK_TIMEOUT_ENV = "CDP_LOCK_TIMEOUT_SECONDS"
DEFAULT_LOCK_TIMEOUT_SECONDS = 300.0
_LOCK_POLL_SECONDS = 0.2
# Lock files this process holds: a build's Python steps open the warehouse again while
# the build holds its lock, and flock would make them wait for their own process.
_held_locks: set[Path] = set()


class WarehouseLockedError(RuntimeError):
    """Another process kept the warehouse for longer than the lock timeout."""


def lock_timeout_seconds() -> float:
    text = os.environ.get(LOCK_TIMEOUT_ENV)
    if text is None:
        return DEFAULT_LOCK_TIMEOUT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise ValueError(f"env {LOCK_TIMEOUT_ENV}: {text!r} is not a number of seconds (0 or more)")
    return seconds


def lock_file(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def _holder(lock_path: Path) -> str:
    try:
        holder = json.loads(lock_path.read_text() or "{}")
    except (OSError, ValueError):
        holder = {}
    if not holder:
        return "readers (`cdp explain` or a dry run)"
    return f"`{holder['command']}` (PID {holder['pid']}, since {holder['since']})"


@contextmanager
def warehouse_lock(command: str, warehouse: Path | None = None, shared: bool = False) -> Iterator[None]:
    """Hold the project's lock on the warehouse, waiting up to the lock timeout for it.

    A writer (``shared=False``: `cdp build` for the whole build, `cdp sync`) excludes
    everyone; readers (`cdp explain`) exclude writers only, so they never see a build
    half done. The lock file beside the warehouse names the writer, so that whoever
    waits in vain can be told which command holds it.
    """
    from cdp.paths import warehouse_path

    path = lock_file(Path(warehouse or warehouse_path()))
    if path in _held_locks:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    timeout = lock_timeout_seconds()
    deadline = time.monotonic() + timeout
    handle = path.open("a+")
    try:
        while True:
            try:
                fcntl.flock(handle, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseLockedError(
                        f"{path.with_suffix('')}: in use by {_holder(path)}; waited {timeout:g} s "
                        f"(env {LOCK_TIMEOUT_ENV}); try again when it is done"
                    ) from None
                time.sleep(_LOCK_POLL_SECONDS)
        if not shared:
            handle.truncate(0)
            handle.write(
                json.dumps(
                    {"command": command, "pid": os.getpid(), "since": datetime.now(UTC).isoformat(timespec="seconds")}
                )
            )
            handle.flush()
        _held_locks.add(path)
        try:
            yield
        finally:
            _held_locks.discard(path)
            if not shared:
                handle.truncate(0)
                handle.flush()
    finally:
        handle.close()  # closing the file releases the lock


def _connect_duckdb(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    """Connect, waiting up to the lock timeout while another process holds DuckDB's own file lock."""
    timeout = lock_timeout_seconds()
    deadline = time.monotonic() + timeout
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as error:
            if "lock" not in str(error).lower():
                raise
            if time.monotonic() >= deadline:
                pid = re.search(r"PID (\d+)", str(error))
                holder = f"process {pid.group(1)}" if pid else "another process"
                raise WarehouseLockedError(
                    f"{path}: in use by {holder} (DuckDB admits one writer at a time); waited {timeout:g} s "
                    f"(env {LOCK_TIMEOUT_ENV}); try again when it is done"
                ) from None
            time.sleep(_LOCK_POLL_SECONDS)


class Warehouse(Protocol):
    def replace_tables(self, schema: str, tables: dict[str, pa.Table]) -> None:
        """Create or replace every table in ``schema``; all or nothing where the warehouse allows it."""

    def tables(self, schema: str) -> list[str]: ...

    def query(self, sql: str) -> list[tuple]: ...

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        """(name, type) of each column of ``schema.table``, types in the warehouse's SQL; [] if no such table."""

    def replace_table_as(self, schema: str, table: str, sql: str) -> None:
        """Create or replace ``schema.table`` with the result of ``sql``, computed where the data is."""

    def close(self) -> None: ...


class DuckDBWarehouse:
    def __init__(self, path: Path, read_only: bool = False):
        self.conn = _connect_duckdb(path, read_only)

    def replace_tables(self, schema: str, tables: dict[str, pa.Table]) -> None:
        self.conn.execute(f'create schema if not exists "{schema}"')
        self.conn.execute("begin transaction")
        try:
            for name, data in tables.items():
                self.conn.register("_cdp_incoming", data)
                try:
                    self.conn.execute(f'create or replace table "{schema}"."{name}" as select * from _cdp_incoming')
                finally:
                    self.conn.unregister("_cdp_incoming")
            self.conn.execute("commit")
        except Exception:
            self.conn.execute("rollback")
            raise

    def tables(self, schema: str) -> list[str]:
        rows = self.conn.execute(
            "select table_name from information_schema.tables where table_schema = ? order by table_name", [schema]
        ).fetchall()
        return [name for (name,) in rows]

    def query(self, sql: str) -> list[tuple]:
        return self.conn.execute(sql).fetchall()

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        return self.conn.execute(
            """select column_name, data_type from information_schema.columns
               where table_schema = ? and table_name = ? order by ordinal_position""",
            [schema, table],
        ).fetchall()

    def replace_table_as(self, schema: str, table: str, sql: str) -> None:
        self.conn.execute(f'create schema if not exists "{schema}"')
        self.conn.execute(f'create or replace table "{schema}"."{table}" as {sql}')

    def close(self) -> None:
        self.conn.close()


class SparkWarehouse:
    def __init__(self):
        from cdp.spark_session import spark_session

        self.session = spark_session()

    def replace_tables(self, schema: str, tables: dict[str, pa.Table]) -> None:
        # Spark has no multi-table transaction: each table is replaced on its own, after
        # every file has been read and checked.
        self.session.sql(f"create database if not exists `{schema}`")
        for name, data in tables.items():
            self.session.createDataFrame(data).write.mode("overwrite").saveAsTable(f"`{schema}`.`{name}`")

    def tables(self, schema: str) -> list[str]:
        if not self.session.catalog.databaseExists(schema):
            return []
        # Temporary views are listed under every database; they belong to none.
        return sorted(table.name for table in self.session.catalog.listTables(schema) if not table.isTemporary)

    def query(self, sql: str) -> list[tuple]:
        return [tuple(row) for row in self.session.sql(sql).collect()]

    def columns(self, schema: str, table: str) -> list[tuple[str, str]]:
        if not self.session.catalog.tableExists(table, schema):
            return []
        return [
            (field.name, field.dataType.simpleString()) for field in self.session.table(f"`{schema}`.`{table}`").schema
        ]

    def replace_table_as(self, schema: str, table: str, sql: str) -> None:
        self.session.sql(f"create database if not exists `{schema}`")
        self.session.sql(sql).write.mode("overwrite").saveAsTable(f"`{schema}`.`{table}`")

    def close(self) -> None:
        # The session stays up: dbt (session method) and the next steps of this process
        # pick it up again, and the embedded metastore admits one JVM at a time.
        pass


def open_warehouse(target: str | None, path: Path | None = None, read_only: bool = False) -> Warehouse:
    if target == "spark":
        return SparkWarehouse()
    from cdp.paths import warehouse_path

    return DuckDBWarehouse(path or warehouse_path(), read_only=read_only)


def frame_as_table(frame: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """``frame`` as a table of exactly ``schema``, missing values as nulls (an empty frame has no types of its own).

    What a Python step writes for dbt: its columns and types are the source's contract.
    """
    ordered = frame.reindex(columns=schema.names)
    return pa.Table.from_pandas(
        ordered.astype(object).where(ordered.notna(), None), schema=schema, preserve_index=False
    )
