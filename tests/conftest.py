"""Shared fixtures: warehouses built by the real `cdp build` path into temporary files."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from cdp.build import build
from cdp.paths import project_dir

PROJECT = project_dir()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, each worker's dbt commands write their own target folder.

    dbt writes its parse cache, manifest and run results into the target folder; two
    commands writing the same folder at once can read each other's half-written files.
    Dagster's invocations already get folders of their own from dagster-dbt.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        # Relative, as dbt reads it: inside whichever project a test points dbt at.
        target = Path("target") / f"pytest-{worker}"
        (PROJECT / target).mkdir(parents=True, exist_ok=True)
        # Seeded with the prepared manifest (`make prepare`), which tests read, and its parse.
        for name in ("manifest.json", "partial_parse.msgpack"):
            if (PROJECT / "target" / name).is_file():
                shutil.copy2(PROJECT / "target" / name, PROJECT / target / name)
        os.environ["DBT_TARGET_PATH"] = str(target)
        os.environ["DBT_LOG_PATH"] = str(PROJECT / "logs" / f"pytest-{worker}")


# The test files that take minutes (Spark, Dagster runs, the browser, several builds), the
# longest first, as measured by `--durations`. They start first, so that under
# pytest-xdist the short files fill in around them instead of one long file starting last.
LONGEST_FILES = (
    "tests/build/test_spark_parity.py",
    "tests/orchestration/test_jobs.py",
    "tests/orchestration/test_ui.py",
    "tests/identity/test_stable_person_ids.py",
    "tests/privacy/test_erasure_end_to_end.py",
    "tests/fuzz/test_fuzz_build.py",
    "tests/build/test_quarantine.py",
    "tests/profiles/test_build_steps.py",
    "tests/conventions/test_conventions.py",
    "tests/identity/test_precision_recall.py",
    "tests/activation/test_demo.py",
    "tests/profiles/test_clv_cdnow.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.path.relative_to(PROJECT).as_posix() if item.path.is_relative_to(PROJECT) else ""
        return LONGEST_FILES.index(path) if path in LONGEST_FILES else len(LONGEST_FILES)

    items.sort(key=rank)  # stable: the files' own order and each file's tests keep theirs


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


def state_sync_rows(warehouse: Path) -> dict[str, dict[str, tuple]]:
    """Per state sync of activation.yml, its model's rows by key, as the synced fields."""
    from cdp.sync_cli import load_activation_config

    rows = {}
    for sync in load_activation_config().syncs:
        if sync.kind == "state":
            fields = ", ".join(sync.fields)
            rows[sync.name] = {
                key: rest for key, *rest in query(warehouse, f"select {sync.key}, {fields} from {sync.source}")
            }
    return rows


def row_changes(before: dict[str, tuple], after: dict[str, tuple]) -> tuple[int, int, int]:
    """(adds, changes, removes) from ``before`` to ``after``, two of state_sync_rows' row sets."""
    adds = len(after.keys() - before.keys())
    removes = len(before.keys() - after.keys())
    changes = sum(1 for key in after.keys() & before.keys() if after[key] != before[key])
    return adds, changes, removes


def summary_of(warehouse: Path) -> list[str]:
    """What `cdp build` prints about the warehouse at ``warehouse``."""
    from cdp.summary import summary_lines
    from cdp.warehouse import DuckDBWarehouse

    opened = DuckDBWarehouse(warehouse, read_only=True)
    try:
        return summary_lines(opened)
    finally:
        opened.close()


@dataclass(frozen=True)
class CommandRun:
    warehouse: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> CommandRun:
    """The bundled demo data built once per test session by `cdp build --quiet` in its own
    process, stderr a pipe as in CI: the warehouse, and what the command printed."""
    warehouse = tmp_path_factory.mktemp("demo") / "cdp.duckdb"
    environment = os.environ | {"CDP_WAREHOUSE": str(warehouse)}
    environment.pop("CDP_RAW_DIR", None)
    result = subprocess.run(
        [sys.executable, "-m", "cdp.cli", "build", "--quiet"], capture_output=True, text=True, env=environment
    )
    if result.returncode != 0:
        pytest.fail(f"cdp build of the demo failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return CommandRun(warehouse, result.stdout, result.stderr)


@pytest.fixture(scope="session")
def demo_warehouse(demo_build: CommandRun) -> Path:
    """The bundled demo data built once per test session, as `make demo` builds it."""
    return demo_build.warehouse
