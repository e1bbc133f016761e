"""One stand-in per destination type, found by module name beside its destination, and the
demo credentials each destination type declares its stand-in accepts."""

from __future__ import annotations

import json

from activation import destinations, standins
from cdp.sync_cli import sync_to_standins
from tests.activation.conftest import NOW, make_config
from tests.conftest import warehouse_at


def test_every_destination_type_has_its_stand_in():
    assert standins.available_types() == destinations.available_types()
    for type_name in standins.available_types():
        assert standins.standin_class(type_name).type_name == type_name


def test_a_run_against_the_stand_ins_uses_the_demo_credentials_each_type_declares(warehouse, monkeypatch):
    # Credentials the stand-ins check: the webhook's signature (on a path set in the
    # configuration) and FCM's service-account key, from which google-auth gets a token.
    monkeypatch.delenv("DEMO_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("DEMO_FCM_KEY", raising=False)
    config = make_config(
        {
            "hook": {
                "type": "webhook",
                "base_url": "https://hooks.example.com",
                "credentials": {"signing_secret": "DEMO_WEBHOOK_SECRET"},
                "settings": {"path": "/cdp-events"},
            },
            "fcm": {
                "type": "fcm",
                "credentials": {"service_account_key": "DEMO_FCM_KEY"},
                "settings": {"project_id": "retail-cdp", "templates": {"default": {"title": "Hi", "body": "News"}}},
            },
        },
        [
            {
                "name": "hooked",
                "source": "marts.fct_message_plan",
                "destination": "hook",
                "kind": "message",
                "channels": ["email", "sms"],
            },
            {
                "name": "pushed",
                "source": "marts.sync_fcm__messages",
                "destination": "fcm",
                "kind": "message",
                "channels": ["app_push"],
                "fields": ["push_token"],
            },
        ],
    )
    with warehouse_at(warehouse):
        run = sync_to_standins(config, now=NOW)
    assert [(r.sync, r.status) for r in run.reports] == [("hooked", "succeeded"), ("pushed", "succeeded")]
    assert all(r.ok == r.sends > 0 for r in run.reports)
    assert run.holdings["webhook messages accepted"] + run.holdings["fcm messages accepted"] == sum(
        r.ok for r in run.reports
    )


def test_fcm_declares_a_key_its_stand_in_made():
    from activation.destinations.fcm import Fcm

    with standins.Standin() as standin:
        key = json.loads(Fcm.demo_credential("service_account_key", standin["fcm"]))
        assert key["client_email"] in standin["fcm"].service_accounts
        assert key["token_uri"] == f"{standin.url}/token"


def _signed_post(standin, secret: str, timestamp: int):
    import requests

    from activation.destinations.webhook import signature

    body = json.dumps({"sync": "s", "operation": "upsert", "rows": [{"key": "k1"}]}).encode()
    headers = {
        "Content-Type": "application/json",
        "X-CDP-Timestamp": str(timestamp),
        "X-CDP-Signature": signature(secret, str(timestamp), body),
    }
    return requests.post(standin.url + standin["webhook"].path, data=body, headers=headers, timeout=5)


def test_the_webhook_receiver_refuses_a_wrong_or_stale_signature():
    import time

    with standins.Standin() as standin:
        standin["webhook"].signing_secret = "the-shared-secret"
        now = int(time.time())
        assert _signed_post(standin, "the-shared-secret", now).status_code == 200
        wrong = _signed_post(standin, "another-secret", now)
        stale = _signed_post(standin, "the-shared-secret", now - 301)
        assert (wrong.status_code, wrong.json()) == (401, {"error": "bad signature"})
        assert (stale.status_code, stale.json()) == (401, {"error": "stale timestamp"})
        assert standin["webhook"].rows == [{"key": "k1"}] and standin["webhook"].refused == 2


def test_every_local_server_binds_loopback_only():
    import re
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with standins.Standin() as standin:
        assert standin.http.server_address[0] == "127.0.0.1"
        port = standin.http.server_address[1]
        # Reachable on loopback, not on the machine's other addresses.
        for address in {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}:
            if not address.startswith("127."):
                with socket.socket() as probe:
                    probe.settimeout(1)
                    assert probe.connect_ex((address, port)) != 0, f"stand-in reachable on {address}"
    # The stand-in in its own process (`make bench-sync`) prints where it listens.
    process = subprocess.Popen([sys.executable, "-m", "activation.standins"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().startswith("http://127.0.0.1:")
    finally:
        process.terminate()
        process.wait(timeout=10)
    # Every server the tests start (Prism, the Dagster UI) is told to bind 127.0.0.1.
    root = Path(__file__).resolve().parents[2]
    launches = 0
    for path in [*root.glob("tests/**/*.py"), *root.glob("cdp/**/*.py"), *root.glob("activation/**/*.py")]:
        text = path.read_text()
        for launch in re.finditer(r'"(?:mock|dev)",\s*"-h",\s*"([^"]+)"', text):
            assert launch.group(1) == "127.0.0.1", f"{path}: a server bound to {launch.group(1)}"
            launches += 1
        assert "0.0.0.0" not in text or path.name == "test_standins.py", f"{path} names 0.0.0.0"
    assert launches >= 2  # Prism (test_contracts) and the Dagster UI (test_ui) at least
