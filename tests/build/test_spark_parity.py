"""The same models on Spark: the demo built on a local Spark session reports what DuckDB reports."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cdp.summary import summary_lines
from cdp.warehouse import DuckDBWarehouse

pytestmark = pytest.mark.spark


def test_the_demo_on_spark_matches_duckdb(tmp_path, demo_warehouse):
    environment = {
        **os.environ,
        "CDP_SPARK_WAREHOUSE": str(tmp_path / "spark"),
        "CDP_WAREHOUSE": str(tmp_path / "unused.duckdb"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "cdp.cli", "build", "--target", "spark"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=1800,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    spark_report = result.stdout[result.stdout.index("Rows per layer:") :].strip().splitlines()

    duckdb = DuckDBWarehouse(demo_warehouse, read_only=True)
    try:
        duckdb_report = summary_lines(duckdb)
    finally:
        duckdb.close()
    # Erasure inside the warehouse runs on DuckDB only (docs/privacy.md); each side says so
    # in its own words. Everything else the build reports must be the same.
    assert without_erasure(spark_report) == without_erasure(duckdb_report)


def without_erasure(report: list[str]) -> list[str]:
    kept, in_erasure = [], False
    for line in report:
        if not line.startswith("  "):
            in_erasure = line.startswith("Erasure")
        if not in_erasure:
            kept.append(line)
    return kept
