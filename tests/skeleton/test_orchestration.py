"""The Dagster definitions `make ui` loads: dbt models as assets, dbt tests as checks."""

from __future__ import annotations

from dagster import AssetKey, materialize

from tests.conftest import query, warehouse_at


def test_definitions_load_with_dbt_models_as_assets_and_tests_as_checks():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"staging/stg_crm__customers", "marts/fct_quarantined_rows", "raw/crm_customers"} <= keys
    checks = {check.name for check in graph.asset_check_keys if check.asset_key == AssetKey(["staging", "stg_crm__customers"])}
    assert "unique_stg_crm__customers_crm_customer_id" in checks


def test_materialising_the_dbt_assets_builds_the_warehouse(tmp_path):
    from orchestration.dbt import cdp_dbt_models, dbt_resource

    with warehouse_at(tmp_path / "cdp.duckdb") as warehouse:
        result = materialize([cdp_dbt_models], resources={"dbt": dbt_resource})
    assert result.success
    # No raw files were landed: every source is an empty table, and staging is empty too.
    assert query(warehouse, "select count(*) from staging.stg_crm__customers") == [(0,)]
