"""The dbt project as Dagster assets, with dbt tests as asset checks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetExecutionContext
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from cdp.dbt_runner import dbt_environment
from cdp.paths import project_dir

dbt_environment()
cdp_dbt_project = DbtProject(project_dir=project_dir(), profiles_dir=project_dir())
cdp_dbt_project.prepare_if_dev()


class CdpDbtTranslator(DagsterDbtTranslator):
    """Groups assets by the layer folder a model lives in (staging, intermediate, marts)."""

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


dbt_resource = DbtCliResource(project_dir=cdp_dbt_project)
