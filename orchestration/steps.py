"""The Python parts of a build as Dagster assets: landing the raw files, and each step of
cdp.steps (Splink matching, the CLV fit) between the dbt stages around it."""

import os
from pathlib import Path

from dagster import AssetExecutionContext, AssetKey, AssetSpec, AssetsDefinition, MaterializeResult, multi_asset

from cdp.contract import raw_contract
from cdp.paths import demo_raw_dir
from cdp.raw_loader import load_raw_dir
from cdp.steps import PythonStep, StepContext
from cdp.warehouse import open_warehouse
from orchestration.dbt import dbt_target, model_asset_key, run_as_of, source_asset_keys

# Where the raw files are: the folder `cdp build --raw-dir` would be given. Unset: the
# bundled demo data.
RAW_DIR_VARIABLE = "CDP_RAW_DIR"


def raw_dir() -> Path:
    configured = os.environ.get(RAW_DIR_VARIABLE)
    return Path(configured) if configured else demo_raw_dir()


# The loader also records the lines it could not split into the header's columns.
LOADER_SOURCE = "cdp_loader"


@multi_asset(
    name="raw_files",
    specs=[
        AssetSpec(AssetKey(["raw", table]), group_name="raw", description=f"The raw table {table}, landed from {table}.csv or .parquet.")
        for table in raw_contract()
    ]
    + [AssetSpec(key, group_name="raw") for key in source_asset_keys(LOADER_SOURCE)],
)
def raw_files(context: AssetExecutionContext):
    """Land every raw file of CDP_RAW_DIR (default: the demo data), as `cdp build` does."""
    warehouse = open_warehouse(dbt_target())
    try:
        report = load_raw_dir(warehouse, raw_dir(), raw_contract())
    finally:
        warehouse.close()
    for load in report.tables:
        # Counts and names only: the rows themselves are personal data.
        yield MaterializeResult(
            asset_key=AssetKey(["raw", load.table]),
            metadata={
                "rows": load.rows,
                "file": load.file or "none (an empty table)",
                "ignored columns": ", ".join(load.ignored_columns) or "none",
            },
        )
    for key in source_asset_keys(LOADER_SOURCE):
        yield MaterializeResult(asset_key=key, metadata={"malformed lines": report.malformed_lines})


def python_step_asset(step: PythonStep, index: int) -> AssetsDefinition:
    @multi_asset(
        name=f"python_step_{index}",
        specs=[
            AssetSpec(key, group_name=step.output_source, deps=[model_asset_key(model) for model in step.reads])
            for key in source_asset_keys(step.output_source)
        ],
        description=step.name,
    )
    def _step(context: AssetExecutionContext):
        step.run(StepContext(as_of=run_as_of(context), target=dbt_target()))
        for key in source_asset_keys(step.output_source):
            yield MaterializeResult(asset_key=key)

    return _step
