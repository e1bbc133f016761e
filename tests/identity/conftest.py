"""Shared helpers for the identity tests: builds into throw-away warehouse files."""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest

from cdp.build import build, demo_as_of, parse_as_of
from cdp.paths import demo_raw_dir


@contextmanager
def warehouse_at(path: Path):
    """Point CDP_WAREHOUSE (read by cdp and by dbt's profile) at `path` for a while."""
    previous = os.environ.get("CDP_WAREHOUSE")
    os.environ["CDP_WAREHOUSE"] = str(path)
    try:
        yield path
    finally:
        if previous is None:
            os.environ.pop("CDP_WAREHOUSE", None)
        else:
            os.environ["CDP_WAREHOUSE"] = previous


def build_into(warehouse: Path, raw_dir: Path, as_of: str) -> None:
    with warehouse_at(warehouse):
        build(raw_dir=raw_dir, as_of=parse_as_of(as_of))


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory) -> Path:
    """The bundled demo data built once, as `make demo` builds it."""
    warehouse = tmp_path_factory.mktemp("identity_demo") / "cdp.duckdb"
    build_into(warehouse, demo_raw_dir(), demo_as_of().isoformat())
    return warehouse


@pytest.fixture
def demo_copy(tmp_path) -> Path:
    """A private copy of the demo raw files, for tests that edit them."""
    target = tmp_path / "raw"
    shutil.copytree(demo_raw_dir(), target)
    return target
