"""The Dagster definitions `make ui` loads: the build plan of `cdp build` as assets (raw
files, dbt stages, the Python steps between them), dbt tests as checks. Running them (the
build job against `cdp build`, the syncs, quality checks, automation, the UI) is tested in
tests/orchestration."""

from __future__ import annotations

from dagster import AssetKey


def test_definitions_load_with_dbt_models_as_assets_and_tests_as_checks():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {
        "staging/stg_crm__customers",
        "marts/fct_quarantined_rows",
        "raw/crm_customers",
        "marts/dim_persons",
    } <= keys
    checks = {
        check.name for check in graph.asset_check_keys if check.asset_key == AssetKey(["staging", "stg_crm__customers"])
    }
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
