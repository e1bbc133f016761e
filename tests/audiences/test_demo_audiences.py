"""Audiences on the demo warehouse (stories in seeds/demo/README.md), `cdp explain`, the
Dagster lineage of the audience step, and a new aud_ model picked up with no other edit."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import pytest

from cdp.audiences import audience_names, audience_step_reads, current_manifest, run_audience_step
from cdp.build import demo_as_of
from cdp.dbt_runner import run_dbt
from cdp.paths import project_dir
from tests.conftest import query, warehouse_at

pytestmark = pytest.mark.slow


def person_of(warehouse: Path, crm_customer_id: str) -> str:
    ((person_id,),) = query(
        warehouse,
        """select person_id from marts.bdg_person_identifiers
           where identifier_type = 'crm_customer_id' and identifier_value = ?""",
        [crm_customer_id],
    )
    return person_id


def audiences_of(warehouse: Path, person_id: str) -> dict[str, datetime]:
    return dict(
        query(
            warehouse,
            "select audience_name, entered_at from marts.fct_audience_memberships where person_id = ?",
            [person_id],
        )
    )


def test_the_demo_evaluates_every_audience_it_knows(demo_warehouse):
    evaluated = query(demo_warehouse, "select audience_name, audience_kind from audiences.audience_definitions")
    assert sorted(name for name, _ in evaluated) == audience_names()
    assert {kind for _, kind in evaluated} == {"model", "yaml"}
    # The size history starts with the build: today's size is the membership count.
    sizes = query(
        demo_warehouse,
        """select sizes.audience_name, sizes.members, count(memberships.person_id)
           from marts.fct_audience_size_days as sizes
           left join marts.fct_audience_memberships as memberships on memberships.audience_name = sizes.audience_name
           group by sizes.audience_name, sizes.members""",
    )
    assert sizes and all(members == counted for _, members, counted in sizes)


def test_yaml_audiences_find_the_demo_stories(demo_warehouse):
    as_of = demo_as_of()
    # emma_browse_abandonment: two product views on 19 Nov, no purchase
    assert audiences_of(demo_warehouse, person_of(demo_warehouse, "C1013"))["browsers_no_purchase"] == as_of
    # oliver_churn_risk: 624 spent, nothing since July
    oliver = audiences_of(demo_warehouse, person_of(demo_warehouse, "C1016"))
    assert oliver["high_value_inactive"] == as_of and "at_risk_customers" in oliver
    # mia_app_push: in the app on 19 Nov, last purchase in April
    assert "app_browsers_no_purchase" in audiences_of(demo_warehouse, person_of(demo_warehouse, "C1025"))
    # olivia_near_next_tier: 50 points short of silver
    assert "near_next_tier" in audiences_of(demo_warehouse, person_of(demo_warehouse, "C1007"))
    # The demo's CLV fit is not_fitted: no churn probabilities, nobody at high churn risk.
    assert query(
        demo_warehouse, "select count(*) from audiences.audience_members where audience_name = 'high_churn_risk'"
    ) == [(0,)]


def test_explain_shows_what_put_the_person_in_each_audience(demo_warehouse):
    from cdp.explain import explain

    sections = {section.title: section.lines for section in explain(demo_warehouse, "C1016")}
    lines = sections["Audiences (fct_audience_memberships)"]
    (header, *rows) = lines
    assert header.split() == ["audience", "entered", "at", "defined", "by", "qualifying", "values", "now"]
    (yaml_row,) = [row for row in rows if row.startswith("high_value_inactive")]
    assert "audiences.yml: lifetime_value >= 200 and last_purchase_at < as_of - interval 90 days" in yaml_row
    assert "lifetime_value = 624.00, last_purchase_at = 2026-07-08 11:00:00" in yaml_row
    (model_row,) = [row for row in rows if row.startswith("at_risk_customers")]
    assert "models/marts/audiences/aud_at_risk_customers.sql" in model_row
    assert "lifecycle_stage = at_risk" in model_row


def test_dagster_draws_the_step_between_the_audiences_and_the_log():
    from dagster import AssetKey

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    members = graph.get(AssetKey(["cdp_audiences", "audience_members"]))
    assert {AssetKey(["marts", "aud_champions"]), AssetKey(["marts", "dim_persons"])} <= members.parent_keys
    assert AssetKey(["intermediate", "int_person_event_features"]) in members.parent_keys
    assert AssetKey(["intermediate", "int_audience_membership_log"]) in members.child_keys


NEW_AUDIENCE_SQL = """
with persons as (
    select * from {{ ref('dim_persons') }}
),

promoters as (
    select person_id, cast(null as {{ dbt.type_timestamp() }}) as entered_at
    from persons
    where nps_class = 'promoter'
)

select * from promoters
"""
NEW_AUDIENCE_YAML = """
  - name: aud_promoters
    description: One row per person whose latest survey answer makes them a promoter.
    config:
      meta:
        owner: customer-experience
        journeys: []
        qualifying_columns: [nps_class, nps_score]
    columns: *audience_columns
"""


def test_a_new_aud_model_is_an_audience_with_no_other_edit(tmp_path, demo_warehouse, monkeypatch):
    # A copy of the project, so that the new model stays out of the checkout.
    project = tmp_path / "project"
    project.mkdir()
    for name in ("dbt_project.yml", "profiles.yml", "audiences.yml"):
        shutil.copy2(project_dir() / name, project / name)
    for folder in ("models", "macros", "seeds", "tests/dbt"):
        shutil.copytree(project_dir() / folder, project / folder)
    audiences_folder = project / "models" / "marts" / "audiences"
    (audiences_folder / "aud_promoters.sql").write_text(NEW_AUDIENCE_SQL)
    models_yaml = audiences_folder / "_audiences__models.yml"
    entries = models_yaml.read_text()
    models_yaml.write_text(
        entries.replace(
            "\n  - name: fct_audience_memberships", NEW_AUDIENCE_YAML + "\n  - name: fct_audience_memberships"
        )
    )
    warehouse = shutil.copy2(demo_warehouse, tmp_path / "cdp.duckdb")
    monkeypatch.setenv("CDP_PROJECT_DIR", str(project))

    assert "promoters" in audience_names()
    assert "aud_promoters" in audience_step_reads(current_manifest())
    as_of = demo_as_of()
    with warehouse_at(Path(warehouse)):
        dbt_vars = {"cdp__as_of": as_of.isoformat(sep=" ")}
        run_dbt(["run", "--select", "aud_promoters"], dbt_vars=dbt_vars)
        report = run_audience_step(as_of=as_of, target=None)
        run_dbt(["run", "--select", "int_audience_membership_log", "fct_audience_memberships"], dbt_vars=dbt_vars)
    zoe = person_of(Path(warehouse), "C1027")  # zoe_champion: NPS 10
    assert report.members["promoters"] == 1
    assert audiences_of(Path(warehouse), zoe)["promoters"] == as_of
