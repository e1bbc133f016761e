"""What the Dagster definitions read from the environment, and the names they share."""

from __future__ import annotations

import os
from pathlib import Path

from cdp.paths import demo_raw_dir

# Where the raw files are: the folder `cdp build --raw-dir` would be given. Unset: the
# bundled demo data.
RAW_DIR_VARIABLE = "CDP_RAW_DIR"

# Every step that opens the warehouse is in this pool. DuckDB takes one writer per file
# (and no reader beside another process's writer); the instance's dagster.yaml admits one
# step of the pool at a time, so steps wait instead of failing on the file lock.
WAREHOUSE_POOL = "cdp_warehouse"
# Every job's runs carry this tag; dagster.yaml lets one such run out of the queue at a
# time, so the steps of two refreshes never interleave.
WAREHOUSE_RUN_TAGS = {"cdp/warehouse": "writes"}

RAW_GROUP = "raw"
ACTIVATION_GROUP = "activation"


def raw_dir() -> Path:
    configured = os.environ.get(RAW_DIR_VARIABLE)
    return Path(configured) if configured else demo_raw_dir()


def dbt_target() -> str | None:
    return os.environ.get("CDP_DBT_TARGET") or None
