"""The Python steps of a build (cdp.steps: Splink matching, the CLV fit) as Dagster assets,
each between the dbt stages around it, in the business area of the source it writes."""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    asset_check,
    multi_asset,
)

from cdp.clv.step import OUTPUT_SCHEMA as CLV_SCHEMA
from cdp.steps import PythonStep, StepContext
from cdp.warehouse import open_warehouse
from orchestration.clock import as_of_metadata, run_as_of
from orchestration.dbt import model_asset_key, source_props, translator
from orchestration.locking import WarehouseLock
from orchestration.metadata import table_metadata
from orchestration.settings import WAREHOUSE_POOL, dbt_target

CLV_SOURCE = "cdp_clv"


def python_step_asset(step: PythonStep, index: int) -> AssetsDefinition:
    tables = {
        translator.get_asset_key(props): (props["schema"], props["name"]) for props in source_props(step.output_source)
    }
    group = translator.get_group_name(source_props(step.output_source)[0])

    @multi_asset(
        name=f"python_step_{index}",
        specs=[
            AssetSpec(
                key,
                group_name=group,
                deps=[model_asset_key(model) for model in step.reads],
                description=f"Written by the build step: {step.name}.",
                kinds={"python", "duckdb"},
            )
            for key in tables
        ],
        description=step.name,
        pool=WAREHOUSE_POOL,
    )
    def _step(context: AssetExecutionContext, warehouse_lock: WarehouseLock):
        as_of = run_as_of(context)
        step.run(StepContext(as_of=as_of.moment, target=dbt_target()))
        warehouse = open_warehouse(dbt_target(), read_only=True)
        try:
            for key, (schema, table) in tables.items():
                yield MaterializeResult(
                    asset_key=key, metadata={**table_metadata(warehouse, schema, table), **as_of_metadata(as_of)}
                )
        finally:
            warehouse.close()

    return _step


CLV_FITS_KEY = AssetKey([CLV_SOURCE, "clv_model_fits"])


@asset_check(
    asset=CLV_FITS_KEY,
    name="clv_models_fitted",
    description="Both CLV models (BG/NBD, Gamma-Gamma) were fitted; a WARN with the reason when not.",
    pool=WAREHOUSE_POOL,
)
def clv_models_fitted(context: AssetCheckExecutionContext, warehouse_lock: WarehouseLock) -> AssetCheckResult:
    warehouse = open_warehouse(dbt_target(), read_only=True)
    try:
        rows = warehouse.query(
            f"select distinct model, status, status_reason, sample_size from {CLV_SCHEMA}.clv_model_fits order by model"
        )
    finally:
        warehouse.close()
    metadata = {
        f"{model}": MetadataValue.text(
            f"fitted on {sample_size:,} customers" if status == "fitted" else f"not fitted: {reason}"
        )
        for model, status, reason, sample_size in rows
    }
    fitted = bool(rows) and all(status == "fitted" for _, status, _, _ in rows)
    if not rows:
        metadata["fits"] = MetadataValue.text("no fit recorded yet: the CLV step has not run")
    return AssetCheckResult(passed=fitted, severity=AssetCheckSeverity.WARN, metadata=metadata)
