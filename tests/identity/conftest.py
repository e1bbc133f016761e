"""Helpers for the identity tests: builds into throw-away warehouse files. The demo
warehouse, `query` and `warehouse_at` come from tests/conftest.py."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from cdp.build import parse_as_of
from cdp.paths import demo_raw_dir
from tests.conftest import build_warehouse, query, warehouse_at

__all__ = ["build_into", "query", "warehouse_at"]


def build_into(warehouse: Path, raw_dir: Path, as_of: str) -> None:
    build_warehouse(warehouse, raw_dir=raw_dir, as_of=parse_as_of(as_of))


@pytest.fixture
def demo_copy(tmp_path) -> Path:
    """A private copy of the demo raw files, for tests that edit them."""
    target = tmp_path / "raw"
    shutil.copytree(demo_raw_dir(), target)
    return target
