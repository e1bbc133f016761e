"""Jobs, schedules and sensors: what runs the product without an operator at the keyboard.

* `cdp_refresh_and_sync` (hourly schedule, and the raw-files sensor): land the raw files,
  build every model, check, sync. The CLV fit is left to its daily job; the hourly runs
  read the latest fit.
* `cdp_clv_refit` (daily schedule): fit the CLV models again and rebuild what reads them.
* `cdp_build`: what `cdp build` does (everything but the syncs).
* `cdp_sync_one`: one sync of activation.yml, picked in the launchpad's config.

Schedules and sensors start stopped: an operator turns them on (Automation page).
"""

from __future__ import annotations

import hashlib
import json

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    build_sensor_for_freshness_checks,
    define_asset_job,
    sensor,
)

from orchestration.activation import activation_config
from orchestration.dbt import source_asset_keys
from orchestration.raw import landed_files, raw_freshness_checks
from orchestration.settings import WAREHOUSE_RUN_TAGS, raw_dir
from orchestration.steps import CLV_SOURCE
from orchestration.syncs import SYNC_KEY_PREFIX, one_sync_config_mapping

SYNCS = AssetSelection.key_prefixes(SYNC_KEY_PREFIX)
CLV_FIT = AssetSelection.assets(*source_asset_keys(CLV_SOURCE))
# Tags every run of the sensor carries: which landed files started it.
NEW_FILES_TAG = "cdp/new_raw_files"

refresh_and_sync = define_asset_job(
    "cdp_refresh_and_sync",
    tags=WAREHOUSE_RUN_TAGS,
    selection=AssetSelection.all() - CLV_FIT,
    description="Land the raw files, build every model (with the latest CLV fit), run the checks, run every sync.",
)
clv_refit = define_asset_job(
    "cdp_clv_refit",
    tags=WAREHOUSE_RUN_TAGS,
    selection=CLV_FIT.downstream() - SYNCS,
    description="Fit the CLV models again (BG/NBD, Gamma-Gamma) and rebuild the models that read the fit.",
)
build = define_asset_job(
    "cdp_build",
    tags=WAREHOUSE_RUN_TAGS,
    selection=AssetSelection.all() - SYNCS,
    description="Land the raw files and build everything, as `cdp build` does (no syncs).",
)
sync_one = define_asset_job(
    "cdp_sync_one",
    tags=WAREHOUSE_RUN_TAGS,
    selection=SYNCS,
    config=one_sync_config_mapping(activation_config()),
    description="Run one sync of activation.yml on demand (choose it in the config); the others are not run.",
)
jobs = [refresh_and_sync, clv_refit, build, sync_one]

hourly_refresh = ScheduleDefinition(
    name="hourly_refresh_and_sync",
    job=refresh_and_sync,
    cron_schedule="0 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every hour on the hour: refresh everything and sync.",
)
daily_clv_refit = ScheduleDefinition(
    name="daily_clv_refit",
    job=clv_refit,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="Every day at 03:30 UTC: fit the CLV models again.",
)


def file_versions(cursor: str | None) -> dict[str, list[int]]:
    return json.loads(cursor) if cursor else {}


@sensor(
    name="raw_files_landed",
    job=refresh_and_sync,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description=(
        "Starts cdp_refresh_and_sync when a raw file in CDP_RAW_DIR is new or changed (once per version of "
        "a file; the cursor, kept by Dagster, survives restarts)."
    ),
)
def raw_files_landed(context: SensorEvaluationContext):
    seen = file_versions(context.cursor)
    current = {name: [stat.st_mtime_ns, stat.st_size] for name, stat in landed_files(raw_dir()).items()}
    new = sorted(name for name, version in current.items() if seen.get(name) != version)
    if not new:
        return SkipReason(f"no new or changed raw file in {raw_dir()}")
    # The versions of the files that triggered the run name it, so a repeated
    # evaluation (before the cursor was saved) requests the same run and Dagster drops it.
    run_key = hashlib.sha256(json.dumps({name: current[name] for name in new}).encode()).hexdigest()[:16]
    context.update_cursor(json.dumps(current, sort_keys=True))
    return RunRequest(run_key=run_key, tags={NEW_FILES_TAG: ", ".join(new)[:200]})


raw_freshness_sensor = build_sensor_for_freshness_checks(
    freshness_checks=raw_freshness_checks, name="raw_files_freshness", default_status=DefaultSensorStatus.STOPPED
)

schedules = [hourly_refresh, daily_clv_refit]
sensors = [raw_files_landed, raw_freshness_sensor]
