"""The one Definitions object Dagster loads (`make ui`, `dagster dev -m orchestration.definitions`).

The assets follow the build plan of `cdp build` (cdp/steps.py): the raw files, then dbt
stages with the Python steps between them. The job `cdp_build` materialises all of it.
"""

from dagster import AssetSelection, Definitions, define_asset_job

from cdp.steps import DbtStage, build_plan, python_steps
from orchestration.dbt import dbt_resource, dbt_stage_assets
from orchestration.steps import python_step_asset, raw_files


def build_assets() -> list:
    assets = [raw_files]
    for index, item in enumerate(build_plan(python_steps())):
        assets.append(dbt_stage_assets(item, index) if isinstance(item, DbtStage) else python_step_asset(item, index))
    return assets


defs = Definitions(
    assets=build_assets(),
    jobs=[define_asset_job("cdp_build", selection=AssetSelection.all(), description="Land the raw files and build everything, as `cdp build` does.")],
    resources={"dbt": dbt_resource},
)
