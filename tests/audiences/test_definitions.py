"""Where audiences come from: audiences.yml validated as a file, aud_ models found in dbt's
manifest with their meta, and the names journeys may use."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdp.audiences import (
    AudienceError,
    all_audiences,
    audience_names,
    audience_step_reads,
    current_manifest,
    declared_audiences,
    model_audiences,
)

SQL_AUDIENCES = {
    "new_signups",
    "new_customers",
    "recent_purchasers",
    "champions",
    "at_risk_customers",
    "lapsed_customers",
    "near_next_tier",
    "high_churn_risk",
}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "audiences.yml"
    path.write_text(text)
    return path


GOOD_ENTRY = """
  - name: big_spenders
    description: Spent more than 500.
    owner: crm
    condition: lifetime_value > 500
"""


def test_a_valid_file_gives_its_audiences(tmp_path):
    (audience,) = declared_audiences(write(tmp_path, "audiences:" + GOOD_ENTRY))
    assert (audience.name, audience.kind, audience.owner, audience.condition, audience.journeys) == (
        "big_spenders",
        "yaml",
        "crm",
        "lifetime_value > 500",
        (),
    )


def test_no_file_means_no_yaml_audiences(tmp_path):
    assert declared_audiences(tmp_path / "audiences.yml") == []


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "audiences:" + GOOD_ENTRY + "    conditon: x > 1\n",
            "audiences.yml: audience big_spenders: unknown key 'conditon'",
        ),
        ("audience:" + GOOD_ENTRY, "audiences.yml: unknown key 'audience'"),
        (
            "audiences:\n  - name: no_owner\n    description: d\n    condition: lifetime_value > 1\n",
            "audiences.yml: audience no_owner: key 'owner' is missing",
        ),
        (
            "audiences:\n  - name: Big Spenders\n    description: d\n    owner: o\n    condition: lifetime_value > 1\n",
            "audiences.yml: audience Big Spenders: name 'Big Spenders' must be lower case letters, digits and _",
        ),
        ("audiences:" + GOOD_ENTRY + "    journeys: welcome\n", "audiences.yml: audience big_spenders: journeys:"),
        ("audiences: [\n", "audiences.yml: not valid YAML at line 2"),
        ("audiences:" + GOOD_ENTRY + GOOD_ENTRY, "audience big_spenders is defined twice"),
    ],
)
def test_a_bad_file_is_refused_naming_file_audience_and_key(tmp_path, text, message):
    with pytest.raises(AudienceError) as raised:
        declared_audiences(write(tmp_path, text))
    assert message in str(raised.value)


@pytest.fixture(scope="module")
def manifest() -> dict:
    return current_manifest()


def test_every_aud_model_is_an_audience_with_its_meta(manifest):
    audiences = {audience.name: audience for audience in model_audiences(manifest)}
    assert set(audiences) == SQL_AUDIENCES
    champions = audiences["champions"]
    assert (champions.kind, champions.relation, champions.defined_in) == (
        "model",
        "marts.aud_champions",
        "models/marts/audiences/aud_champions.sql",
    )
    assert champions.qualifying_columns[0] == "rfm_segment" and champions.owner
    assert audiences["new_signups"].journeys == ("welcome",)


def test_journeys_may_name_the_models_and_the_yaml_audiences(manifest):
    shipped = {audience.name for audience in declared_audiences()}
    assert shipped, "audiences.yml ships audiences the demo evaluates"
    assert set(audience_names()) == SQL_AUDIENCES | shipped
    # What the journeys of dbt_project.yml use is there.
    assert {"new_signups", "recent_purchasers", "at_risk_customers", "lapsed_customers"} <= set(audience_names())


def test_the_step_reads_the_profile_and_every_aud_model(manifest):
    reads = audience_step_reads(manifest)
    assert set(reads) == {"dim_persons", "int_person_event_features"} | {f"aud_{name}" for name in SQL_AUDIENCES}


def with_model(manifest: dict, name: str, **changes) -> dict:
    """``manifest`` with one more aud_ model, a copy of aud_champions with ``changes``."""
    nodes = dict(manifest["nodes"])
    node = {**nodes["model.cdp.aud_champions"], "name": name, "alias": name, **changes}
    nodes[f"model.cdp.{name}"] = node
    return {**manifest, "nodes": nodes}


def test_a_model_without_its_meta_is_refused_naming_model_and_file(manifest):
    broken = with_model(manifest, "aud_vips", config={"meta": {"owner": "crm"}})
    with pytest.raises(AudienceError) as raised:
        model_audiences(broken)
    assert "models/marts/audiences/_audiences__models.yml: aud_vips: meta qualifying_columns: Field required" in str(
        raised.value
    )
    unlisted = with_model(manifest, "aud_unlisted", patch_path=None, original_file_path="models/marts/audiences/x.sql")
    with pytest.raises(AudienceError, match="aud_unlisted has no entry in a models YAML file"):
        model_audiences(unlisted)


def test_an_audience_cannot_be_built_on_audiences(manifest):
    child_map = {key: list(children) for key, children in manifest["child_map"].items()}
    child_map["model.cdp.fct_audience_memberships"] = [
        *child_map["model.cdp.fct_audience_memberships"],
        "model.cdp.aud_members_of_members",
    ]
    looping = {**with_model(manifest, "aud_members_of_members"), "child_map": child_map}
    with pytest.raises(AudienceError, match="aud_members_of_members reads what the audience step writes"):
        model_audiences(looping)


def test_a_yaml_audience_may_not_take_a_model_audience_name(manifest, tmp_path):
    path = write(tmp_path, GOOD_ENTRY.replace("big_spenders", "champions").join(["audiences:", ""]))
    with pytest.raises(AudienceError) as raised:
        all_audiences(manifest, path)
    assert "audience champions is defined twice: in models/marts/audiences/aud_champions.sql and in audiences.yml" in (
        str(raised.value)
    )
