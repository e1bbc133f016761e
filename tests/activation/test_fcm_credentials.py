"""FCM's credentials: an access token minted by google-auth from a service-account key at the
token endpoint the key names (the stand-in plays Google's), refreshed near expiry; an
unreadable key fails the sync before anything is recorded, a refused one stops it with
the message it stopped at recorded as failed, and nothing is lost or sent twice."""

from __future__ import annotations

import json

import duckdb
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from activation.config import ConfigError
from activation.engine import run_syncs
from tests.activation.conftest import NOW, make_config

KEY_VARIABLE = "TEST_FCM_SERVICE_ACCOUNT_KEY"


def query(warehouse, sql):
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def fcm_config(standin, credentials=None):
    destination = {
        "type": "fcm",
        "base_url": standin.url,
        "credentials": {"service_account_key": KEY_VARIABLE} if credentials is None else credentials,
        "settings": {"project_id": "retail-cdp", "templates": {"default": {"title": "Hi {person_id}", "body": "News"}}},
    }
    sync = {
        "name": "push",
        "source": "marts.sync_fcm__messages",
        "destination": "fcm",
        "kind": "message",
        "channels": ["app_push", "web_push"],
        "fields": ["push_token", "person_id"],
    }
    return make_config({"fcm": destination}, [sync])


def due_messages(warehouse) -> set[str]:
    return {
        r[0]
        for r in query(
            warehouse,
            "select message_key from marts.sync_fcm__messages "
            f"where status = 'planned' and send_after <= timestamp '{NOW}'",
        )
    }


def run(warehouse, config):
    return run_syncs(warehouse, config, now=NOW)[0]


@pytest.mark.parametrize("held_as", ["file", "json"])
def test_a_service_account_key_gets_a_token_and_every_due_push_goes_once(
    warehouse, standin, monkeypatch, tmp_path, held_as
):
    key = standin["fcm"].service_account_key()
    if held_as == "file":
        (tmp_path / "key.json").write_text(key)
        monkeypatch.setenv(KEY_VARIABLE, str(tmp_path / "key.json"))
    else:
        monkeypatch.setenv(KEY_VARIABLE, key)
    report = run(warehouse, fcm_config(standin))
    assert report.status == "succeeded" and report.ok == len(due_messages(warehouse)) > 0
    assert set(standin.deliveries) == due_messages(warehouse)
    # One token for the whole run: it is valid for an hour.
    assert standin.requests["/token"] == 1


def test_a_token_near_its_expiry_is_refreshed_before_a_send(warehouse, standin, monkeypatch):
    # google-auth refreshes a token within a few minutes of its expiry; one that lives
    # a minute is therefore renewed before every send, and the stand-in refuses sends
    # with a token it did not issue or that has expired.
    standin["fcm"].token_lifetime_seconds = 60
    monkeypatch.setenv(KEY_VARIABLE, standin["fcm"].service_account_key())
    report = run(warehouse, fcm_config(standin))
    sent = len(due_messages(warehouse))
    assert report.status == "succeeded" and report.ok == sent
    assert standin.requests["/token"] == sent  # a fresh token for every send


def test_a_refused_key_stops_the_sync_and_the_next_run_sends_what_it_could_not(warehouse, standin, monkeypatch):
    key = standin["fcm"].service_account_key()
    monkeypatch.setenv(KEY_VARIABLE, key)
    # Google no longer knows this key (e.g. it was deleted): the signature does not verify.
    client_email = json.loads(key)["client_email"]
    registered = standin["fcm"].service_accounts[client_email]
    unknown_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    standin["fcm"].service_accounts[client_email] = unknown_key.public_key()
    report = run(warehouse, fcm_config(standin))
    assert report.status == "failed" and "token endpoint refused the service-account key" in report.error
    assert "PRIVATE KEY" not in report.error
    assert not standin.deliveries
    # The message it stopped at is recorded as failed, not as "may have been sent".
    assert query(warehouse, "select status, count(*) from activation.send_ledger group by status") == [("failed", 1)]
    standin["fcm"].service_accounts[client_email] = registered  # the key is valid again
    again = run(warehouse, fcm_config(standin))
    assert again.status == "succeeded" and again.ok == len(due_messages(warehouse))
    assert set(standin.deliveries) == due_messages(warehouse) and set(standin.deliveries.values()) == {1}


def test_an_unchanged_rerun_asks_nothing_of_the_provider_not_even_a_token(warehouse, standin, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, standin["fcm"].service_account_key())
    run(warehouse, fcm_config(standin))
    requests = sum(standin.requests.values())
    assert run(warehouse, fcm_config(standin)).sends == 0
    assert sum(standin.requests.values()) == requests


def test_a_variable_that_holds_no_key_is_named_without_its_value(warehouse, standin, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, '{"type": "service_account", "private_key": "not-a-key-secret-value"}')
    report = run(warehouse, fcm_config(standin))
    assert report.status == "failed" and KEY_VARIABLE in report.error
    assert "not-a-key-secret-value" not in report.error
    monkeypatch.setenv(KEY_VARIABLE, "/nowhere/key.json")
    report = run(warehouse, fcm_config(standin))
    assert report.status == "failed" and "cannot be read" in report.error
    assert not standin.deliveries


@pytest.mark.parametrize("credentials", [{}, {"service_account_key": KEY_VARIABLE, "access_token": "TEST_FCM_TOKEN"}])
def test_exactly_one_kind_of_credential_is_configured(standin, credentials):
    with pytest.raises(ConfigError, match="exactly one of service_account_key or access_token"):
        fcm_config(standin, credentials=credentials)
