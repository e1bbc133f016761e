"""The dbt project as Dagster assets, with dbt tests as asset checks."""


import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from cdp.dbt_runner import dbt_environment, run_dbt
from cdp.paths import project_dir

dbt_environment()
cdp_dbt_project = DbtProject(project_dir=project_dir(), profiles_dir=project_dir())
if os.environ.get("DAGSTER_IS_DEV_CLI") or not cdp_dbt_project.manifest_path.exists():
    # The asset definitions are read from the manifest: parse on every `dagster dev`
    # (re)load so that edited models show up, and on a fresh clone that has none yet.
    run_dbt(["parse", "--quiet"])


class CdpDbtTranslator(DagsterDbtTranslator):
    """Keys and groups from dbt metadata: models by schema (staging/stg_...), raw tables as raw/<table>.

    A source whose meta sets `dagster: asset_key` (a Python step's output) keeps that key.
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        is_raw_table = dbt_resource_props["resource_type"] == "source" and "asset_key" not in (
            dbt_resource_props.get("meta", {}).get("dagster", {})
        )
        if is_raw_table:
            return AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "raw"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "default"


@dbt_assets(
    manifest=cdp_dbt_project.manifest_path,
    project=cdp_dbt_project,
    dagster_dbt_translator=CdpDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
)
def cdp_dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()


# The venv's `cdp-dbt` (dbt plus the project's SQL functions), found next to this Python
# so that Dagster works without an activated virtual environment.
dbt_resource = DbtCliResource(project_dir=cdp_dbt_project, dbt_executable=str(Path(sys.executable).parent / "cdp-dbt"))
