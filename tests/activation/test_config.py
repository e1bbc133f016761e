"""activation.yml and the channel registry: every unknown key is an error that names the key,
where it is and the file (never a value), and the channels come from dbt_project.yml."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from activation.channels import read_channels
from activation.config import ConfigError, load_config, parse_config
from activation.destinations import available_types, destination_class
from activation.destinations.webhook import Webhook
from tests.activation.conftest import CHANNELS, PROJECT, klaviyo_destination, state_sync

SHIPPED = PROJECT / "activation.yml"


def shipped() -> dict:
    return yaml.safe_load(SHIPPED.read_text())


def load_changed(tmp_path: Path, change) -> None:
    document = shipped()
    change(document)
    path = tmp_path / "activation.yml"
    path.write_text(yaml.safe_dump(document))
    load_config(path, PROJECT / "dbt_project.yml")


@pytest.mark.parametrize(
    "change, where",
    [
        (lambda d: d["destinations"]["klaviyo"].update(bach_sizes={"upsert": 10}), "destinations.klaviyo.bach_sizes"),
        (lambda d: d["syncs"][1].update(feilds=d["syncs"][1].pop("fields")), "syncs[1] (sendgrid_contacts).feilds"),
        (
            lambda d: d["destinations"]["sendgrid"]["settings"].update(lst_id="x"),
            "destinations.sendgrid.settings.lst_id",
        ),
        (lambda d: d["destinations"]["klaviyo"]["rate_limits"].update({"events": {"per_sec": 5}}), "per_sec"),
        (lambda d: d["syncs"][0].update(join={"relation": "marts.dim_persons", "colums": ["email"]}), "join.colums"),
        (lambda d: d.update(merge_logs="marts.fct_person_merges"), "merge_logs"),
    ],
)
def test_an_unknown_key_is_an_error_naming_the_key_its_place_and_the_file(tmp_path, change, where):
    def with_limits(document):
        document["destinations"]["klaviyo"].setdefault("rate_limits", {})
        change(document)

    with pytest.raises(ConfigError) as refused:
        load_changed(tmp_path, with_limits)
    message = str(refused.value)
    assert message.startswith(str(tmp_path / "activation.yml")) and where in message and "unknown key" in message


def test_errors_never_show_a_value(tmp_path):
    secret = "sk_live_0123456789abcdef"

    def misplaced_secret(document):
        document["destinations"]["klaviyo"]["credentials"]["api_kee"] = secret
        document["destinations"]["twilio"]["settings"]["validity_period_seconds"] = secret

    with pytest.raises(ConfigError) as refused:
        load_changed(tmp_path, misplaced_secret)
    message = str(refused.value)
    assert "2 problems" in message and "destinations.klaviyo.credentials: api_kee" in message
    assert "destinations.twilio.settings.validity_period_seconds" in message and secret not in message


def test_every_problem_of_a_destination_type_is_named():
    entry = klaviyo_destination("http://127.0.0.1:9", rate_limits={"bulk_imports": {"per_second": 1}})
    entry["credentials"] = {}
    with pytest.raises(ConfigError) as refused:
        parse_config({"destinations": {"klaviyo": entry}}, CHANNELS)
    message = str(refused.value)
    assert "destinations.klaviyo.credentials: need environment variable names for api_key" in message
    assert "destinations.klaviyo.rate_limits: bulk_imports: not an operation of klaviyo" in message


def test_a_destination_type_that_does_not_exist_is_named_with_those_that_do():
    with pytest.raises(ConfigError, match=r"destinations\.braze\.type: unknown destination type 'braze' \(available: "):
        parse_config({"destinations": {"braze": {"type": "braze"}}}, CHANNELS)


def test_a_message_sync_names_channels_of_the_registry():
    sync = state_sync(kind="message", key="message_key", mode="add-only", channels=["emial"], fields=[])
    with pytest.raises(ConfigError, match=r"unknown channels emial \(the registry cdp__channels has email, sms"):
        parse_config(
            {"destinations": {"klaviyo": klaviyo_destination("http://127.0.0.1:9")}, "syncs": [sync]}, CHANNELS
        )


def test_the_channels_are_read_from_the_project_registry():
    assert CHANNELS.names == ("email", "sms", "whatsapp", "app_push", "web_push")
    assert CHANNELS["app_push"].identifier_types == ("push_token", "device_id")
    assert CHANNELS["web_push"].address_field is None
    assert Webhook.supported_channels(CHANNELS) == frozenset(CHANNELS.names)
    for type_name in available_types():
        assert destination_class(type_name).supported_channels(CHANNELS) <= set(CHANNELS.names), type_name


def test_a_channel_added_to_the_registry_reaches_the_webhook(tmp_path):
    project = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())
    registry = project["vars"]["cdp__channels"]
    registry.append(registry[0] | {"channel": "rcs", "consent_column": "consent_rcs"})
    (tmp_path / "dbt_project.yml").write_text(yaml.safe_dump(project))
    channels = read_channels(tmp_path / "dbt_project.yml")
    destination = {"type": "webhook", "base_url": "http://127.0.0.1:9", "credentials": {"signing_secret": "S"}}
    sync = {"name": "rcs", "source": "marts.fct_message_plan", "destination": "hook", "kind": "message"}
    config = parse_config({"destinations": {"hook": destination}, "syncs": [sync | {"channels": ["rcs"]}]}, channels)
    assert config.syncs[0].channels == ("rcs",)
    with pytest.raises(ConfigError, match="unknown channels rcs"):
        parse_config({"destinations": {"hook": destination}, "syncs": [sync | {"channels": ["rcs"]}]}, CHANNELS)


def test_a_broken_registry_is_named_by_entry_and_key(tmp_path):
    project = yaml.safe_load((PROJECT / "dbt_project.yml").read_text())
    registry = project["vars"]["cdp__channels"]
    registry[1]["adress_field"] = registry[1].pop("address_field")
    del registry[2]["consent_column"]
    registry.append(dict(registry[0]))
    path = tmp_path / "dbt_project.yml"
    path.write_text(yaml.safe_dump(project))
    with pytest.raises(ConfigError) as refused:
        read_channels(path)
    message = str(refused.value)
    assert message.startswith(str(path)) and "2 problems" in message
    assert "vars.cdp__channels[1].adress_field: unknown key" in message
    assert "vars.cdp__channels[2].consent_column: required" in message
    del registry[1]["adress_field"]
    registry[2]["consent_column"] = "consent_whatsapp"
    path.write_text(yaml.safe_dump(project))
    with pytest.raises(ConfigError, match="channels listed more than once: email"):
        read_channels(path)
