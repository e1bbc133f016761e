"""A message sync refuses a plan older than max_plan_age_hours (activation.yml) and says so."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import pytest

from activation.config import ConfigError, parse_config
from activation.engine import run_syncs
from tests.activation.conftest import CHANNELS, NOW


def webhook_sync(standin, max_plan_age_hours=None) -> dict:
    document = {
        "destinations": {
            "hook": {
                "type": "webhook",
                "base_url": standin.url,
                "credentials": {"signing_secret": "TEST_WEBHOOK_SECRET"},
                "settings": {"path": "/hook"},
            }
        },
        "syncs": [
            {
                "name": "messages",
                "source": "marts.fct_message_plan",
                "destination": "hook",
                "kind": "message",
                "channels": ["email", "sms", "whatsapp", "app_push", "web_push"],
            }
        ],
    }
    if max_plan_age_hours is not None:
        document["max_plan_age_hours"] = max_plan_age_hours
    return document


def plan_built(warehouse, hours_before_now: float) -> None:
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update marts.fct_message_plan set plan_built_at = ?", [NOW - timedelta(hours=hours_before_now)])


def test_a_plan_older_than_the_limit_is_refused_and_nothing_is_sent(warehouse, standin, secrets):
    plan_built(warehouse, 6.5)
    (report,) = run_syncs(warehouse, parse_config(webhook_sync(standin), CHANNELS), now=NOW)
    assert report.status == "refused"
    assert "more than max_plan_age_hours (6)" in report.error and "run `cdp build` first" in report.error
    assert standin.deliveries == {}
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        assert conn.execute("select count(*) from activation.send_ledger").fetchone() == (0,)
        assert conn.execute("select status from activation.sync_runs").fetchall() == [("refused",)]


def test_a_plan_within_the_limit_is_sent(warehouse, standin, secrets):
    plan_built(warehouse, 5.5)
    (report,) = run_syncs(warehouse, parse_config(webhook_sync(standin), CHANNELS), now=NOW)
    assert report.status == "succeeded" and report.ok > 0 and len(standin.deliveries) == report.ok


def test_the_limit_is_a_setting(warehouse, standin, secrets):
    plan_built(warehouse, 5.5)
    (report,) = run_syncs(warehouse, parse_config(webhook_sync(standin, max_plan_age_hours=4), CHANNELS), now=NOW)
    assert report.status == "refused" and "more than max_plan_age_hours (4)" in report.error


def test_a_negative_limit_is_a_configuration_error(standin):
    with pytest.raises(ConfigError, match="max_plan_age_hours: Input should be greater than or equal to 0"):
        parse_config(webhook_sync(standin, max_plan_age_hours=-1), CHANNELS)
