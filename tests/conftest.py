"""Shared fixtures: warehouses built by the real `cdp build` path into temporary files."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from cdp.build import build


@contextmanager
def warehouse_at(path: Path) -> Iterator[Path]:
    """Point CDP_WAREHOUSE (read by the loader, dbt's profile and activation) at ``path``."""
    previous = os.environ.get("CDP_WAREHOUSE")
    os.environ["CDP_WAREHOUSE"] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("CDP_WAREHOUSE", None)
        else:
            os.environ["CDP_WAREHOUSE"] = previous


def build_warehouse(path: Path, raw_dir: Path | None = None, as_of=None) -> Path:
    with warehouse_at(path):
        build(raw_dir=raw_dir, as_of=as_of)
    return path


def query(warehouse: Path, sql: str, parameters: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql, parameters or []).fetchall()


def summary_of(warehouse: Path) -> list[str]:
    """What `cdp build` prints about the warehouse at ``warehouse``."""
    from cdp.summary import summary_lines
    from cdp.warehouse import DuckDBWarehouse

    opened = DuckDBWarehouse(warehouse, read_only=True)
    try:
        return summary_lines(opened)
    finally:
        opened.close()


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled demo data built once per test session, as `make demo` builds it."""
    return build_warehouse(tmp_path_factory.mktemp("demo") / "cdp.duckdb")
