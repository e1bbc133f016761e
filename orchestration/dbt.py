"""The dbt project as Dagster assets (dbt tests as asset checks), in the stages of cdp.steps.

`cdp build` runs dbt selections with Python steps in between (cdp/steps.py). Dagster runs
the same plan: one dbt multi-asset per stage, with the same select and exclude, so that a
Python step's asset sits between the models it reads and the models that read it.

Assets are grouped by business area: a model's group is `meta.dagster.group` when
dbt_project.yml sets one for its folder, else the area folder it sits in
(models/<layer>/<area>/), so identity, profiles, loyalty, lifecycle, activation and
data_quality each hold their models of every layer.
"""

import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetMaterialization, AssetsDefinition, Output
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from cdp.steps import DbtStage
from cdp.warehouse import open_warehouse
from orchestration.clock import as_of_metadata, run_as_of
from orchestration.locking import WarehouseLock
from orchestration.metadata import table_metadata
from orchestration.project import cdp_dbt_project, manifest, manifest_path, model_node
from orchestration.settings import RAW_GROUP, WAREHOUSE_POOL, dbt_target

PARTIAL_PARSE = "partial_parse.msgpack"
# The loader also records the lines it could not split into the header's columns.
LOADER_SOURCE = "cdp_loader"


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
        if is_raw_table(dbt_resource_props) or dbt_resource_props.get("source_name") == LOADER_SOURCE:
            return RAW_GROUP
        return super().get_group_name(dbt_resource_props) or area_folder(dbt_resource_props)


def area_folder(dbt_resource_props: Mapping[str, Any]) -> str:
    """The folder under the layer (models/<layer>/<area>/...), else the layer itself."""
    fqn = dbt_resource_props["fqn"]  # [project, layer, area, ..., name]
    return fqn[2] if len(fqn) > 3 else fqn[1]


def is_raw_table(dbt_resource_props: Mapping[str, Any]) -> bool:
    """A table of the raw source contract (a source no Python step or activation writes)."""
    return (
        dbt_resource_props["resource_type"] == "source"
        and not dbt_resource_props["source_name"].startswith("cdp_")
        and "asset_key" not in dbt_resource_props.get("meta", {}).get("dagster", {})
    )


translator = CdpDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


def source_props(source_name: str) -> list[Mapping[str, Any]]:
    return [props for props in manifest()["sources"].values() if props["source_name"] == source_name]


def source_asset_keys(source_name: str) -> list[AssetKey]:
    """The asset keys of every table of the dbt source ``source_name``."""
    return [translator.get_asset_key(props) for props in source_props(source_name)]


def model_asset_key(model_name: str) -> AssetKey:
    return translator.get_asset_key(model_node(model_name))


def relations_by_key() -> dict[AssetKey, tuple[str, str]]:
    """(schema, table) of every dbt model's and seed's asset."""
    return {
        translator.get_asset_key(props): (props["schema"], props["alias"])
        for props in manifest()["nodes"].values()
        if props["resource_type"] in ("model", "seed")
    }


def dbt_stage_assets(stage: DbtStage, index: int) -> AssetsDefinition:
    relations = relations_by_key()

    @dbt_assets(
        manifest=manifest_path(),
        project=cdp_dbt_project,
        select=stage.select or "fqn:*",
        exclude=stage.exclude or "",
        name=f"dbt_stage_{index}",
        dagster_dbt_translator=translator,
        pool=WAREHOUSE_POOL,
    )
    def _stage(context: AssetExecutionContext, dbt: DbtCliResource, warehouse_lock: WarehouseLock):
        as_of = run_as_of(context)
        arguments = ["build", "--vars", json.dumps({"cdp__as_of": as_of.moment.isoformat(sep=" ")})]
        if dbt_target():
            arguments += ["--target", dbt_target()]
        invocation = dbt.cli(arguments, context=context, raise_on_error=False)
        # dbt holds the warehouse until it exits: events are collected, then given their
        # tables' figures read after the process ended.
        events = list(invocation.stream())
        keep_parse_cache(invocation.target_path)
        yield from with_table_metadata(context, events, relations, as_of_metadata(as_of))
        if not invocation.is_successful():
            raise invocation.get_error()

    return _stage


def keep_parse_cache(invocation_target: Path) -> None:
    """Make this invocation's parse the one the next dbt invocation starts from.

    dagster-dbt gives every invocation its own target folder, seeded with the project's
    target/partial_parse.msgpack. dbt parses everything again when the vars (the run's
    as_of) or the profile (the warehouse path) differ from those of that file, which the
    manifest's preparation wrote with neither; the next stage of the same run has the same
    ones, so it can reuse this invocation's parse instead.
    """
    parsed = invocation_target / PARTIAL_PARSE
    if parsed.is_file():
        kept = cdp_dbt_project.project_dir / cdp_dbt_project.target_path / PARTIAL_PARSE
        # Through a file of its own and a rename: a dbt command of another run that starts
        # meanwhile reads the old parse or the new one, never half of one.
        copy = kept.with_name(f"{PARTIAL_PARSE}.{os.getpid()}.tmp")
        shutil.copyfile(parsed, copy)
        os.replace(copy, kept)


def with_table_metadata(
    context: AssetExecutionContext,
    events: list[Any],
    relations: dict[AssetKey, tuple[str, str]],
    extra: dict[str, Any],
) -> Iterator[Any]:
    """``events`` with every materialised table's row count and figures added to its metadata."""

    def key_of(event: Output | AssetMaterialization) -> AssetKey:
        return (
            event.asset_key
            if isinstance(event, AssetMaterialization)
            else context.asset_key_for_output(event.output_name)
        )

    keys = {key_of(event) for event in events if isinstance(event, Output | AssetMaterialization)}
    figures: dict[AssetKey, dict[str, Any]] = {}
    if keys:
        warehouse = open_warehouse(dbt_target(), read_only=True)
        try:
            figures = {key: table_metadata(warehouse, *relations[key]) for key in keys if key in relations}
        finally:
            warehouse.close()
    for event in events:
        if isinstance(event, Output | AssetMaterialization):
            added = {**figures.get(key_of(event), {}), **extra}
            yield event.with_metadata({**event.metadata, **added})
        else:
            yield event


# The venv's `cdp-dbt` (dbt plus the project's SQL functions), found next to this Python
# so that Dagster works without an activated virtual environment.
dbt_resource = DbtCliResource(project_dir=cdp_dbt_project, dbt_executable=str(Path(sys.executable).parent / "cdp-dbt"))
