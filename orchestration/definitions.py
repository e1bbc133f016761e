"""The one Definitions object Dagster loads (`make ui`, `dagster dev -m orchestration.definitions`).

The whole product as assets: the raw files, the dbt stages with the Python steps between
them (the build plan of `cdp build`, cdp/steps.py), and the syncs of activation.yml
downstream of their sync_* models; dbt tests, the quality suites, the CLV fit and the raw
files' freshness as checks; the jobs, schedules and sensors of orchestration/automation.py.

Steps run one after another in the run's process (in-process executor): the warehouse
takes one writer at a time, and a process per step only added start-up time. Steps of
different runs take turns through the warehouse pool, and the jobs' runs queue one at a
time (dagster.yaml).
"""

from dagster import Definitions, in_process_executor

from cdp.steps import DbtStage, build_plan, python_steps
from orchestration import automation
from orchestration.activation import activation_resource
from orchestration.checks import quality_checks
from orchestration.dbt import dbt_resource, dbt_stage_assets
from orchestration.locking import WarehouseLock
from orchestration.raw import raw_files, raw_freshness_checks
from orchestration.steps import clv_models_fitted, python_step_asset
from orchestration.syncs import sync_assets


def build_assets() -> list:
    """The assets of a build, in the plan's order: raw files, dbt stages and Python steps."""
    assets = [raw_files]
    for index, item in enumerate(build_plan(python_steps())):
        assets.append(dbt_stage_assets(item, index) if isinstance(item, DbtStage) else python_step_asset(item, index))
    return assets


# activation.message_events (source cdp_activation) is the asset of the Python step that
# migrates activation's tables before dbt; the syncs write it too but do not declare it,
# which would close a cycle (outcomes feed the next plan).
defs = Definitions(
    assets=[*build_assets(), *sync_assets()],
    asset_checks=[*quality_checks, clv_models_fitted, *raw_freshness_checks],
    jobs=automation.jobs,
    schedules=automation.schedules,
    sensors=automation.sensors,
    resources={"dbt": dbt_resource, "activation": activation_resource(), "warehouse_lock": WarehouseLock()},
    executor=in_process_executor,
)
