"""The raw files as assets: landing them (as `cdp build` does), how fresh they are, and
which of them are new since the last look (the sensor of orchestration/automation.py).
"""

import os
from datetime import timedelta
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    build_last_update_freshness_checks,
    multi_asset,
)

from cdp.contract import raw_contract
from cdp.project_vars import project_var
from cdp.raw_loader import FILE_SUFFIXES, load_raw_dir
from cdp.warehouse import open_warehouse
from orchestration.dbt import LOADER_SOURCE, source_asset_keys
from orchestration.locking import WarehouseLock
from orchestration.metadata import ROW_COUNT
from orchestration.settings import RAW_GROUP, WAREHOUSE_POOL, dbt_target, raw_dir

# Read by the freshness checks: when the file behind a raw table last changed. Reloading
# an old file does not make its data fresh.
LAST_UPDATED = "dagster/last_updated_timestamp"


def landed_files(folder: Path) -> dict[str, os.stat_result]:
    """The files of ``folder`` that the loader reads (`<table>.csv`, `.csv.gz`, `.parquet`), by name."""
    names = {f"{table}{suffix}" for table in raw_contract() for suffix in FILE_SUFFIXES}
    return {path.name: path.stat() for path in sorted(folder.iterdir()) if path.name in names and path.is_file()}


def raw_table_key(table: str) -> AssetKey:
    return AssetKey(["raw", table])


@multi_asset(
    name="raw_files",
    specs=[
        AssetSpec(
            raw_table_key(table),
            group_name=RAW_GROUP,
            description=f"The raw table {table}, landed from {table}.csv, .csv.gz or .parquet in CDP_RAW_DIR.",
            kinds={"file", "duckdb"},
        )
        for table in raw_contract()
    ]
    + [
        AssetSpec(key, group_name=RAW_GROUP, description="Lines of the raw files that the loader could not split.")
        for key in source_asset_keys(LOADER_SOURCE)
    ],
    pool=WAREHOUSE_POOL,
)
def raw_files(context: AssetExecutionContext, warehouse_lock: WarehouseLock):
    """Land every raw file of CDP_RAW_DIR (default: the demo data), as `cdp build` does."""
    folder = raw_dir()
    warehouse = open_warehouse(dbt_target())
    try:
        report = load_raw_dir(warehouse, folder, raw_contract())
    finally:
        warehouse.close()
    for load in report.tables:
        # Counts and names only: the rows themselves are personal data.
        metadata = {
            ROW_COUNT: MetadataValue.int(load.rows),
            "file": load.file or "none (an empty table)",
            "ignored columns": ", ".join(load.ignored_columns) or "none",
        }
        if load.file:
            metadata[LAST_UPDATED] = MetadataValue.timestamp((folder / load.file).stat().st_mtime)
        yield MaterializeResult(asset_key=raw_table_key(load.table), metadata=metadata)
    for key in source_asset_keys(LOADER_SOURCE):
        yield MaterializeResult(asset_key=key, metadata={"malformed lines": MetadataValue.int(report.malformed_lines)})


# A raw table whose file has not changed for longer than this is overdue (a WARN check,
# evaluated by the freshness sensor and after every load).
raw_freshness_checks = build_last_update_freshness_checks(
    assets=[raw_table_key(table) for table in raw_contract()],
    lower_bound_delta=timedelta(hours=float(project_var("cdp__raw_files_max_age_hours"))),
)
