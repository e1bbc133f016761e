"""The dbt project as Dagster assets (dbt tests as asset checks), in the stages of cdp.steps.

`cdp build` runs dbt selections with Python steps in between (cdp/steps.py). Dagster runs
the same plan: one dbt multi-asset per stage, with the same select and exclude, so that a
Python step's asset sits between the models it reads and the models that read it.
"""

import json
import os
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets

from cdp.build import parse_as_of
from cdp.dbt_runner import dbt_environment, run_dbt
from cdp.paths import project_dir
from cdp.steps import DbtStage

# A run tag that fixes "now" (the dbt var cdp__as_of) for every asset of a run, as
# `cdp build --as-of` does; without it, the moment the run was created.
AS_OF_TAG = "cdp/as_of"

dbt_environment()
cdp_dbt_project = DbtProject(project_dir=project_dir(), profiles_dir=project_dir())
if os.environ.get("DAGSTER_IS_DEV_CLI") or not cdp_dbt_project.manifest_path.exists():
    # The asset definitions are read from the manifest: parse on every `dagster dev`
    # (re)load so that edited models show up, and on a fresh clone that has none yet.
    run_dbt(["parse", "--quiet"])


class CdpDbtTranslator(DagsterDbtTranslator):
    """Keys and groups from dbt metadata: models by schema (staging/stg_...), raw tables as raw/<table>.

    A source whose meta sets `dagster: asset_key` keeps that key; the sources Python
    steps write keep dagster-dbt's default, [source name, table].
    """

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if is_raw_table(dbt_resource_props):
            return AssetKey(["raw", dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return "raw" if is_raw_table(dbt_resource_props) else dbt_resource_props["source_name"]
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "default"


def is_raw_table(dbt_resource_props: Mapping[str, Any]) -> bool:
    """A table of the raw source contract (a source no Python step or activation writes)."""
    return (
        dbt_resource_props["resource_type"] == "source"
        and not dbt_resource_props["source_name"].startswith("cdp_")
        and "asset_key" not in dbt_resource_props.get("meta", {}).get("dagster", {})
    )


translator = CdpDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def manifest() -> dict[str, Any]:
    return json.loads(cdp_dbt_project.manifest_path.read_text())


def source_asset_keys(source_name: str) -> list[AssetKey]:
    """The asset keys of every table of the dbt source ``source_name``."""
    return [
        translator.get_asset_key(props)
        for props in manifest()["sources"].values()
        if props["source_name"] == source_name
    ]


def model_asset_key(model_name: str) -> AssetKey:
    nodes = [props for props in manifest()["nodes"].values() if props["resource_type"] == "model" and props["name"] == model_name]
    if len(nodes) != 1:
        raise ValueError(f"a Python step reads dbt model {model_name!r}, which the manifest does not hold exactly once")
    return translator.get_asset_key(nodes[0])


def run_as_of(context: AssetExecutionContext) -> datetime:
    """The run's "now": the cdp/as_of tag, else when the run was created (the same for every asset)."""
    tagged = context.run.tags.get(AS_OF_TAG)
    if tagged:
        return parse_as_of(tagged)
    record = context.instance.get_run_record_by_id(context.run_id)
    created = record.create_timestamp if record else datetime.now(timezone.utc)
    if created.tzinfo is not None:
        created = created.astimezone(timezone.utc).replace(tzinfo=None)
    return created.replace(microsecond=0)


def dbt_target() -> str | None:
    return os.environ.get("CDP_DBT_TARGET") or None


def dbt_stage_assets(stage: DbtStage, index: int) -> AssetsDefinition:
    @dbt_assets(
        manifest=cdp_dbt_project.manifest_path,
        project=cdp_dbt_project,
        select=stage.select or "fqn:*",
        exclude=stage.exclude or "",
        name=f"dbt_stage_{index}",
        dagster_dbt_translator=translator,
    )
    def _stage(context: AssetExecutionContext, dbt: DbtCliResource):
        arguments = ["build", "--vars", json.dumps({"cdp__as_of": run_as_of(context).isoformat(sep=" ")})]
        if dbt_target():
            arguments += ["--target", dbt_target()]
        yield from dbt.cli(arguments, context=context).stream()

    return _stage


# The venv's `cdp-dbt` (dbt plus the project's SQL functions), found next to this Python
# so that Dagster works without an activated virtual environment.
dbt_resource = DbtCliResource(project_dir=cdp_dbt_project, dbt_executable=str(Path(sys.executable).parent / "cdp-dbt"))
