"""The Dagster definitions `make ui` loads: the build plan of `cdp build` as assets (raw
files, dbt stages, the Python steps between them), dbt tests as checks."""

from __future__ import annotations

from dagster import AssetKey, materialize

from cdp.build import demo_as_of
from tests.conftest import query, warehouse_at


def test_definitions_load_with_dbt_models_as_assets_and_tests_as_checks():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"staging/stg_crm__customers", "marts/fct_quarantined_rows", "raw/crm_customers", "marts/dim_persons"} <= keys
    checks = {check.name for check in graph.asset_check_keys if check.asset_key == AssetKey(["staging", "stg_crm__customers"])}
    assert "unique_stg_crm__customers_crm_customer_id" in checks
    # Landing the files is an asset too, with the loader's record of malformed lines.
    assert graph.get(AssetKey(["raw", "crm_customers"])).is_materializable
    assert graph.get(AssetKey(["cdp_loader", "cdp_load_issues"])).is_materializable


def test_python_steps_sit_between_the_models_they_read_and_the_models_that_read_them():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    matches = graph.get(AssetKey(["cdp_linkage", "identity_match_pairs"]))
    assert AssetKey(["staging", "stg_crm__customers"]) in matches.parent_keys
    assert AssetKey(["intermediate", "int_identity_probabilistic_links"]) in matches.child_keys
    fits = graph.get(AssetKey(["cdp_clv", "clv_model_fits"]))
    assert AssetKey(["intermediate", "int_persons_clv_summarized"]) in fits.parent_keys
    assert AssetKey(["marts", "fct_clv_model_fits"]) in fits.child_keys
    # The model the CLV step reads comes after the Splink step: the plan's order holds.
    assert AssetKey(["cdp_linkage", "identity_match_pairs"]) in graph.get_ancestor_asset_keys(fits.key)


def test_materialising_every_asset_builds_what_cdp_build_builds(tmp_path, demo_warehouse):
    from orchestration.definitions import build_assets
    from orchestration.dbt import AS_OF_TAG, dbt_resource

    with warehouse_at(tmp_path / "cdp.duckdb") as warehouse:
        result = materialize(
            build_assets(), resources={"dbt": dbt_resource}, tags={AS_OF_TAG: demo_as_of().isoformat()}
        )
    assert result.success
    comparisons = {
        "persons": "select count(*), count(distinct person_id) from marts.dim_persons",
        "probabilistic links": "select count(*) from marts.bdg_person_identifiers where not is_exact_links_only",
        "CLV fits": "select model, fit_status from marts.fct_clv_model_fits order by model",
        "planned messages": "select status, count(*) from marts.fct_message_plan group by status order by status",
        "quarantine": "select source_table, reason, count(*) from marts.fct_quarantined_rows group by 1, 2 order by 1, 2",
    }
    for name, sql in comparisons.items():
        assert query(warehouse, sql) == query(demo_warehouse, sql), name
    assert query(warehouse, "select count(*) from raw.crm_customers")[0][0] > 0
