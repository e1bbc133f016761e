"""The dbt project as dagster-dbt sees it, and its manifest, prepared once.

The asset definitions are read from dbt's manifest (target/manifest.json). It is made
by `make prepare` (which `make ui` and `make test` run whenever a model, macro, seed or
dbt_project.yml is newer than the manifest): `dagster-dbt project prepare-and-package
--file orchestration/project.py`, dagster-dbt's own preparation, which runs `dbt parse`
for the project below. Loading the definitions never parses: a code location that ran
`dbt parse` on every load took most of a minute to appear in the UI.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from dagster_dbt import DbtProject

from cdp.dbt_runner import dbt_environment
from cdp.paths import project_dir

dbt_environment()
cdp_dbt_project = DbtProject(project_dir=project_dir(), profiles_dir=project_dir())


class ManifestMissingError(FileNotFoundError):
    """The dbt manifest the definitions are read from has not been prepared."""


def manifest_path() -> Path:
    """target/manifest.json; a clear error when it has not been prepared."""
    path = cdp_dbt_project.manifest_path
    if not path.is_file():
        raise ManifestMissingError(
            f"the dbt manifest {path} does not exist: run `make prepare` (or `dagster-dbt project "
            "prepare-and-package --file orchestration/project.py` with the virtual environment's bin "
            "on PATH) before loading the Dagster definitions"
        )
    return path


@cache
def manifest() -> dict[str, Any]:
    return json.loads(manifest_path().read_text())


def model_node(model_name: str) -> dict[str, Any]:
    """The manifest node of dbt model ``model_name``; an error unless there is exactly one."""
    nodes = [
        props
        for props in manifest()["nodes"].values()
        if props["resource_type"] == "model" and props["name"] == model_name
    ]
    if len(nodes) != 1:
        raise ValueError(f"dbt model {model_name!r} is not in the manifest exactly once (found {len(nodes)})")
    return nodes[0]


# The project's generic tests that check a column against the list a macro returns, instead
# of values written in the model's YAML (tests/dbt/generic/).
CLOSED_LIST_TESTS = {"is_a_suppression_reason": "cdp_suppression_reasons"}


def accepted_values(model_name: str, column: str) -> list[str]:
    """The closed list of ``column`` of ``model_name``: its accepted_values test, or its closed-list test's macro."""
    unique_id = model_node(model_name)["unique_id"]
    for node in manifest()["nodes"].values():
        test = node.get("test_metadata") or {}
        if node["resource_type"] != "test" or node.get("attached_node") != unique_id:
            continue
        if node.get("column_name") != column:
            continue
        if test.get("name") == "accepted_values":
            kwargs = test.get("kwargs", {})
            return list(kwargs.get("values") or kwargs.get("arguments", {}).get("values") or [])
        if test.get("name") in CLOSED_LIST_TESTS:
            return macro_list(CLOSED_LIST_TESTS[test["name"]])
    raise ValueError(f"{model_name}.{column} has no accepted_values or closed-list test to take its closed list from")


class _Returned(Exception):
    pass


def _return(value: Any) -> None:
    raise _Returned(value)


def macro_list(name: str) -> list[str]:
    """The literal list the project's macro ``name`` returns, read from the manifest (the macro is its one owner)."""
    macro = manifest()["macros"].get(f"macro.cdp.{name}")
    if macro is None:
        raise ValueError(f"macro {name} is not in dbt's manifest")
    environment = jinja2.Environment(extensions=["jinja2.ext.do"])
    environment.globals["return"] = _return
    try:
        environment.from_string(macro["macro_sql"] + "{{ " + name + "() }}").render()
    except _Returned as returned:
        return [str(value) for value in returned.args[0]]
    raise ValueError(f"macro {name} returns no list")


def pii_columns(model_name: str) -> list[str]:
    """The columns of ``model_name`` tagged `pii` in its YAML."""
    columns = model_node(model_name).get("columns", {})
    return [name for name, column in columns.items() if "pii" in (column.get("tags") or [])]


def model_columns(model_name: str) -> list[str]:
    return list(model_node(model_name).get("columns", {}))
