"""What the one Definitions object holds: every part of the flow as an asset in its
business area, checks where they belong, the automation, and the resources' settings.
Nothing here builds a warehouse."""

from __future__ import annotations

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInvalidConfigError, EnvVar

from orchestration.definitions import defs


@pytest.fixture(scope="module")
def graph():
    return defs.resolve_asset_graph()


def group_of(graph, key: str) -> str:
    return graph.get(AssetKey(key.split("/"))).group_name


def test_assets_are_grouped_by_business_area_across_layers(graph):
    expected = {
        "raw/crm_customers": "raw",
        "staging/stg_crm__customers": "staging",
        "intermediate/int_identity_links": "identity",
        "cdp_linkage/identity_match_pairs": "identity",  # the Splink step
        "marts/bdg_person_identifiers": "identity",
        "intermediate/int_persons_clv_summarized": "profiles",
        "cdp_clv/clv_model_fits": "profiles",  # the CLV step
        "marts/dim_persons": "profiles",
        "marts/dim_loyalty_cards": "loyalty",
        "marts/fct_audience_memberships": "audiences",
        "marts/fct_message_plan": "activation",
        "marts/sync_klaviyo__members": "activation",
        "sync/klaviyo_members": "activation",
        "marts/fct_quarantined_rows": "data_quality",
        "config/loyalty_tiers": "configuration",
    }
    assert {key: group_of(graph, key) for key in expected} == expected
    # No asset is left in a group named after a layer only, or in Dagster's default.
    groups = {graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert not groups & {"default", "intermediate", "marts"}


def test_each_sync_of_activation_yml_is_an_asset_downstream_of_its_model_and_the_checked_tables(graph):
    from orchestration.activation import activation_config

    for sync in activation_config().syncs:
        parents = graph.get(AssetKey(["sync", sync.name])).parent_keys
        assert AssetKey(["marts", sync.source.split(".")[1]]) in parents, sync.name
        # Blocking checks on dim_persons stop every sync: all read persons.
        assert AssetKey(["marts", "dim_persons"]) in parents, sync.name
    messages = graph.get(AssetKey(["sync", "email_messages"])).parent_keys
    assert AssetKey(["marts", "fct_message_plan"]) in messages
    members = graph.get(AssetKey(["sync", "klaviyo_members"])).parent_keys
    assert AssetKey(["marts", "fct_audience_memberships"]) in members
    assert AssetKey(["marts", "fct_message_plan"]) not in members


def test_dbt_tests_quality_suites_freshness_and_the_clv_fit_are_checks(graph):
    checks = {(key.asset_key.to_user_string(), key.name) for key in graph.asset_check_keys}
    assert {
        ("staging/stg_crm__customers", "unique_stg_crm__customers_crm_customer_id"),
        ("marts/dim_persons", "persons_are_contactable_and_lawful"),
        ("marts/fct_audience_memberships", "audience_sizes_within_bounds"),
        ("marts/fct_message_plan", "plan_suppressions_explained"),
        ("cdp_clv/clv_model_fits", "clv_models_fitted"),
    } <= checks
    assert ("raw/crm_customers", "freshness_check") in checks
    blocking = {
        key.name
        for key in graph.asset_check_keys
        if graph.get_check_spec(key).blocking and key.asset_key.path[0] == "marts"
    }
    assert {
        "persons_are_contactable_and_lawful",
        "audience_sizes_within_bounds",
        "plan_suppressions_explained",
    } <= blocking
    assert not graph.get_check_spec(
        AssetCheckKey(AssetKey(["cdp_clv", "clv_model_fits"]), "clv_models_fitted")
    ).blocking


def test_jobs_schedules_and_sensors(graph):
    def selected(job_name: str) -> set[str]:
        job = defs.resolve_job_def(job_name)
        return {key.to_user_string() for key in job.asset_layer.selected_asset_keys}

    refresh = selected("cdp_refresh_and_sync")
    assert {
        "raw/crm_customers",
        "marts/dim_persons",
        "cdp_linkage/identity_match_pairs",
        "sync/email_messages",
    } <= refresh
    assert "cdp_clv/clv_model_fits" not in refresh  # refitted daily
    refit = selected("cdp_clv_refit")
    assert {"cdp_clv/clv_model_fits", "marts/dim_persons"} <= refit and not any(k.startswith("sync/") for k in refit)
    assert "raw/crm_customers" not in refit
    build = selected("cdp_build")
    assert "cdp_clv/clv_model_fits" in build and not any(k.startswith("sync/") for k in build)
    assert {k for k in selected("cdp_sync_one")} == {k for k in refresh if k.startswith("sync/")}

    schedules = {s.name: (s.cron_schedule, s.job_name) for s in defs.get_repository_def().schedule_defs}
    assert schedules == {
        "hourly_refresh_and_sync": ("0 * * * *", "cdp_refresh_and_sync"),
        "daily_clv_refit": ("30 3 * * *", "cdp_clv_refit"),
    }
    assert {s.name for s in defs.get_repository_def().sensor_defs} == {"raw_files_landed", "raw_files_freshness"}


def test_every_step_that_opens_the_warehouse_is_in_the_warehouse_pool():
    from orchestration.settings import WAREHOUSE_POOL

    job = defs.resolve_job_def("cdp_refresh_and_sync")
    pools = {node.name: node.definition.pool for node in job.graph.node_dict.values()}
    freshness = {name for name in pools if "freshness" in name}
    assert all(pool == WAREHOUSE_POOL for name, pool in pools.items() if name not in freshness), pools


def test_one_sync_on_demand_is_chosen_in_config():
    job = defs.resolve_job_def("cdp_sync_one")
    run_config = job.config_mapping.resolve_from_unvalidated_config({"sync": "sms_messages"})
    chosen = {op: config["config"]["skip"] for op, config in run_config["ops"].items()}
    assert chosen.pop("sync__sms_messages") is False
    assert chosen and all(chosen.values())
    with pytest.raises(DagsterInvalidConfigError, match="not_a_sync"):
        job.config_mapping.resolve_from_unvalidated_config({"sync": "not_a_sync"})


def test_credentials_are_env_vars_named_by_activation_yml(monkeypatch):
    from orchestration.activation import activation_config, activation_resource, credential_variables

    monkeypatch.setenv("CDP_SYNC_STAND_INS", "false")
    resource = activation_resource()
    assert not resource.stand_ins
    named = credential_variables(activation_config())
    assert {"KLAVIYO_API_KEY", "TWILIO_AUTH_TOKEN", "FCM_SERVICE_ACCOUNT_KEY"} <= set(named)
    assert resource.credentials == {name: EnvVar(name) for name in named}
    monkeypatch.delenv("CDP_RAW_DIR", raising=False)
    monkeypatch.delenv("CDP_SYNC_STAND_INS")
    # The bundled demo data syncs to the stand-ins, like `make demo`, and needs no secret.
    assert activation_resource().stand_ins and activation_resource().credentials == {}
    monkeypatch.setenv("CDP_SYNC_STAND_INS", "sometimes")
    with pytest.raises(ValueError, match="CDP_SYNC_STAND_INS must be true or false"):
        activation_resource()


def test_a_missing_manifest_is_a_clear_error(monkeypatch, tmp_path):
    import orchestration.project as project

    class Unprepared:
        manifest_path = tmp_path / "target" / "manifest.json"

    monkeypatch.setattr(project, "cdp_dbt_project", Unprepared)
    with pytest.raises(project.ManifestMissingError, match="run `make prepare`"):
        project.manifest_path()
