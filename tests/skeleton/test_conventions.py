"""The project's conventions, enforced on dbt's manifest (see STYLE in README/DECISIONLOG)."""

from __future__ import annotations

import json
import re

import pytest

from cdp.dbt_runner import manifest_path, run_dbt

PREFIXES_BY_LAYER = {
    "staging": ("stg_", "base_"),
    "intermediate": ("int_",),
    "marts": ("bdg_", "dim_", "fct_", "sync_"),
}
PERSONAL_COLUMNS = {"email", "phone", "first_name", "last_name", "birth_date", "street", "postal_code", "push_token", "payment_fingerprint"}
# Only cdp_as_of() may know what time it is, so that every run is reproducible.
CLOCK = re.compile(r"\b(now\s*\(|current_timestamp|current_date|getdate|sysdate|localtimestamp|run_started_at)", re.IGNORECASE)


@pytest.fixture(scope="module")
def manifest() -> dict:
    run_dbt(["parse", "--quiet"])
    return json.loads(manifest_path().read_text())


def models(manifest: dict) -> list[dict]:
    return [node for node in manifest["nodes"].values() if node["resource_type"] == "model" and node["package_name"] == "cdp"]


def data_tests_by_column(manifest: dict) -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("attached_node") or not node.get("column_name"):
            continue
        found.setdefault((node["attached_node"], node["column_name"]), set()).add(node["test_metadata"]["name"])
    return found


def test_model_names_carry_their_layer_prefix(manifest):
    for model in models(manifest):
        layer = model["fqn"][1]
        assert layer in PREFIXES_BY_LAYER, f"{model['original_file_path']}: models live under staging/, intermediate/ or marts/"
        assert model["name"].startswith(PREFIXES_BY_LAYER[layer]), (
            f"{model['original_file_path']}: a {layer} model's name starts with {' or '.join(PREFIXES_BY_LAYER[layer])}"
        )


def test_staging_names_follow_source_and_entity(manifest):
    for model in models(manifest):
        if model["fqn"][1] == "staging":
            source_folder = model["fqn"][2]
            assert re.fullmatch(rf"(stg|base)_{source_folder}__[a-z_]+s", model["name"]), model["name"]


def test_every_model_says_its_grain(manifest):
    for model in models(manifest):
        assert model["description"].startswith("One row per"), f"{model['name']}: description must start with its grain"


def composite_keys(manifest: dict) -> dict[str, list[list[str]]]:
    found: dict[str, list[list[str]]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("test_metadata", {}).get("name") == "unique_combination_of_columns":
            columns = node["test_metadata"]["kwargs"]["combination_of_columns"]
            found.setdefault(node["attached_node"], []).append(columns)
    return found


def test_every_model_has_a_unique_not_null_key(manifest):
    tested = data_tests_by_column(manifest)
    composites = composite_keys(manifest)
    for model in models(manifest):
        not_null = {column for (node, column), kinds in tested.items() if node == model["unique_id"] and "not_null" in kinds}
        keys = [column for (node, column), kinds in tested.items() if node == model["unique_id"] and {"unique", "not_null"} <= kinds]
        keys += [columns for columns in composites.get(model["unique_id"], []) if set(columns) <= not_null]
        assert keys, f"{model['name']}: needs a key: a column with unique and not_null tests, or unique_combination_of_columns over not_null columns"


def test_only_staging_reads_sources(manifest):
    for model in models(manifest):
        sources = [dependency for dependency in model["depends_on"]["nodes"] if dependency.startswith("source.")]
        if model["fqn"][1] != "staging":
            allowed = {"source.cdp.cdp_loader.cdp_load_issues"} if model["name"] == "fct_quarantined_rows" else set()
            python_steps = {dependency for dependency in sources if manifest["sources"][dependency]["source_name"].startswith("cdp_")}
            assert set(sources) <= allowed | python_steps, f"{model['name']} reads raw sources; only staging may"


def test_personal_data_columns_are_tagged(manifest):
    for model in models(manifest):
        for name, column in model["columns"].items():
            if name in PERSONAL_COLUMNS:
                assert "pii" in column.get("tags", []) + column.get("config", {}).get("tags", []), f"{model['name']}.{name} must be tagged pii"


def test_only_cdp_as_of_knows_the_time(manifest):
    for model in models(manifest):
        assert not CLOCK.search(model["raw_code"]), f"{model['original_file_path']}: use {{{{ cdp_as_of() }}}} for 'now'"
    for macro in manifest["macros"].values():
        if macro["package_name"] == "cdp" and not macro["name"].startswith(("cdp_as_of", "default__cdp_as_of")):
            assert not CLOCK.search(macro["macro_sql"]), f"{macro['original_file_path']}: use cdp_as_of() for 'now'"
