"""cdp__journeys is validated as a whole (cdp/journeys.py), and a mistake names the journey, step and key."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import pytest

from cdp.cli import main
from cdp.journeys import ENTRY_KINDS, JourneyConfigError, configured_journeys, parse_journeys
from cdp.paths import project_dir
from cdp.project_vars import project_var

CHANNELS = tuple(entry["channel"] for entry in project_var("cdp__channels"))
AUDIENCES = ("new_signups", "at_risk_customers", "lapsed_customers", "near_next_tier")
SOURCES = project_var("cdp__source_freshness")


def journeys_with(change) -> list[dict]:
    entries = copy.deepcopy(project_var("cdp__journeys"))
    change({entry["journey"]: entry for entry in entries})
    return entries


def test_the_shipped_configuration_has_the_ten_journeys():
    names = {journey.journey for journey in configured_journeys()}
    assert names == {
        "welcome",
        "cart_abandonment",
        "browse_abandonment",
        "post_purchase_feedback",
        "fifth_purchase_reward",
        "tier_upgrade",
        "near_next_tier",
        "points_expiring",
        "win_back",
        "churn_risk",
    }
    kinds = {journey.entry.kind for journey in configured_journeys()}
    assert kinds == set(ENTRY_KINDS)


def wait_typo(journeys):
    journeys["welcome"]["steps"][1]["wait_minuts"] = journeys["welcome"]["steps"][1].pop("wait_minutes")


def unknown_entry(journeys):
    journeys["cart_abandonment"]["entry"] = {"kind": "cart_abandonned"}


def unknown_goal(journeys):
    journeys["browse_abandonment"]["goal"] = "purchase"


def unknown_channel(journeys):
    journeys["welcome"]["steps"][1]["channels"] = ["whatsapp", "text"]


def unknown_audience(journeys):
    journeys["near_next_tier"]["entry"]["audience"] = "near_tier"


def text_for_a_number(journeys):
    journeys["fifth_purchase_reward"]["entry"]["n"] = "5"


def missing_validity(journeys):
    del journeys["churn_risk"]["steps"][0]["validity_minutes"]


def escalation_outlasting_the_wait(journeys):
    journeys["cart_abandonment"]["steps"][1]["escalate_if_no_engagement_within"] = 2000


def offer_in_a_transactional_journey(journeys):
    journeys["points_expiring"]["steps"][0]["offer"] = {"key": "bonus", "window_days": 30}


def steps_out_of_order(journeys):
    journeys["win_back"]["steps"][1]["step"] = 3


def unknown_source(journeys):
    journeys["tier_upgrade"]["sources"] = ["loyalty_point"]


def product_goal_without_products(journeys):
    journeys["win_back"]["goal"] = "purchase_of_products"


@pytest.mark.parametrize(
    "change, message",
    [
        (wait_typo, "cdp__journeys[0] (welcome): steps[1] (step 2).wait_minuts: unknown key"),
        (unknown_entry, "cdp__journeys[1] (cart_abandonment): entry: unknown kind 'cart_abandonned'"),
        (unknown_goal, "cdp__journeys[2] (browse_abandonment): goal: unknown goal 'purchase'"),
        (unknown_channel, "(welcome): steps[1] (step 2).channels: 'text' is not a channel of cdp__channels"),
        (unknown_audience, "(near_next_tier): entry.audience: 'near_tier' is not an audience"),
        (text_for_a_number, "(fifth_purchase_reward): entry.n: Input should be a valid integer"),
        (missing_validity, "(churn_risk): steps[0] (step 1).validity_minutes: Field required"),
        (escalation_outlasting_the_wait, "(cart_abandonment): steps[1] (step 2).escalate_if_no_engagement_within"),
        (offer_in_a_transactional_journey, "(points_expiring): steps[0] (step 1).offer: offers go in promotional"),
        (steps_out_of_order, "(win_back): steps: Value error, steps must be numbered 1, 2, ... in order"),
        (unknown_source, "(tier_upgrade): sources: 'loyalty_point' is not in cdp__source_freshness"),
        (product_goal_without_products, "(win_back): goal: purchase_of_products needs an entry about products"),
    ],
)
def test_a_mistake_names_the_journey_the_step_and_the_key(change, message):
    with pytest.raises(JourneyConfigError) as raised:
        parse_journeys(journeys_with(change), CHANNELS, AUDIENCES, SOURCES)
    assert message in str(raised.value)


def test_every_mistake_is_reported_at_once():
    def two_mistakes(journeys):
        unknown_goal(journeys)
        unknown_channel(journeys)

    with pytest.raises(JourneyConfigError) as raised:
        parse_journeys(journeys_with(two_mistakes), CHANNELS, AUDIENCES, SOURCES)
    assert "(browse_abandonment): goal" in str(raised.value) and "(welcome): steps[1]" in str(raised.value)


def test_a_journey_defined_twice_is_an_error():
    entries = copy.deepcopy(project_var("cdp__journeys"))
    with pytest.raises(JourneyConfigError, match="journey 'welcome' is defined twice"):
        parse_journeys([*entries, entries[0]], CHANNELS, AUDIENCES, SOURCES)


def test_cdp_build_stops_on_a_bad_journey_before_building_anything(tmp_path, monkeypatch, capsys):
    import cdp.journeys

    broken = journeys_with(unknown_goal)
    monkeypatch.setattr(
        cdp.journeys, "project_var", lambda name: broken if name == "cdp__journeys" else project_var(name)
    )
    cdp.journeys.configured_journeys.cache_clear()
    monkeypatch.setenv("CDP_WAREHOUSE", str(tmp_path / "cdp.duckdb"))
    try:
        assert main(["build"]) == 2
    finally:
        cdp.journeys.configured_journeys.cache_clear()
    assert "unknown goal 'purchase'" in capsys.readouterr().err
    assert not (tmp_path / "cdp.duckdb").exists()


def test_dbt_alone_stops_on_a_journey_missing_a_key(tmp_path):
    """Without `cdp build` the SQL side still refuses to plan nothing, and names the entry."""
    broken = journeys_with(lambda journeys: journeys["welcome"].pop("steps"))
    root = project_dir()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cdp.dbt_entry",
            "compile",
            "--select",
            "int_journey_occurrences",
            "--vars",
            json.dumps({"cdp__journeys": broken}),
            "--target-path",
            str(tmp_path / "target"),
            "--project-dir",
            str(root),
            "--profiles-dir",
            str(root),
        ],
        cwd=root,
        env=os.environ | {"CDP_WAREHOUSE": str(tmp_path / "cdp.duckdb")},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "cdp__journeys[0] (welcome): `steps` is required" in result.stdout


def test_the_readme_example_is_a_valid_journey():
    import yaml

    readme = (project_dir() / "README.md").read_text()
    section = readme[readme.index("## Adding a journey") :]
    block = section[section.index("    - journey:") : section.index("\n\n", section.index("    - journey:"))]
    (journey,) = parse_journeys(yaml.safe_load(block), CHANNELS, (*AUDIENCES, "champions"), SOURCES)
    assert (journey.journey, len(journey.steps), journey.steps[1].offer.key) == ("back_in_stock", 2, "champions_15")
