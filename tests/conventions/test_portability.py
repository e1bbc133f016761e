"""Every model, as dbt compiles it for DuckDB, transpiles with sqlglot to the warehouses a
retailer at scale runs on, with nothing sqlglot cannot translate: the SQL stays portable
beyond the two adapters the project builds on (DuckDB and Spark)."""

from __future__ import annotations

import json
import shutil

import pytest
import sqlglot
from sqlglot.errors import ErrorLevel

from cdp.dbt_runner import manifest_path, run_dbt
from tests.conftest import warehouse_at

DIALECTS = ("spark", "snowflake", "bigquery", "trino")


@pytest.fixture(scope="module")
def compiled_models(tmp_path_factory, demo_warehouse) -> dict[str, str]:
    """Each model's compiled SQL, compiled against a copy of the demo warehouse."""
    folder = tmp_path_factory.mktemp("portability")
    warehouse = folder / "cdp.duckdb"
    shutil.copy(demo_warehouse, warehouse)
    target = folder / "target"
    with warehouse_at(warehouse):
        run_dbt(["compile", "--quiet", "--select", "resource_type:model", "--target-path", str(target)])
    return {
        path.stem: path.read_text()
        for path in target.glob("compiled/*/models/**/*.sql")
        # the tests compiled from a YAML file sit in a folder named after that file
        if not any(part.endswith(".yml") for part in path.parts)
    }


def test_every_model_is_compiled(compiled_models):
    nodes = json.loads(manifest_path().read_text())["nodes"].values()
    names = {node["name"] for node in nodes if node["resource_type"] == "model"}
    assert names and names == set(compiled_models)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_model_transpiles(compiled_models, dialect):
    failures = {}
    for name, sql in sorted(compiled_models.items()):
        try:
            sqlglot.transpile(sql, read="duckdb", write=dialect, unsupported_level=ErrorLevel.RAISE)
        except sqlglot.errors.SqlglotError as error:
            failures[name] = str(error).splitlines()[0]
    assert not failures, f"{len(failures)} models do not transpile to {dialect}: {failures}"
