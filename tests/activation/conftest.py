"""Fixtures for the activation tests: a warehouse with fixture sync models and a message
plan, configuration helpers, and the loopback stand-in provider."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from activation.channels import read_channels
from activation.config import ActivationConfig, parse_config
from activation.standins import Standin
from activation.state import utc_now

PROJECT = Path(__file__).resolve().parents[2]
# The project's channel registry (dbt_project.yml), which activation checks syncs against.
CHANNELS = read_channels(PROJECT / "dbt_project.yml")
NOW = datetime(2026, 11, 20, 9, 0, 0)
SECRETS = {
    "TEST_KLAVIYO_KEY": "pk_test_0123456789",
    "TEST_SENDGRID_KEY": "SG.test-key",
    "TEST_TWILIO_SID": "AC" + "0" * 32,
    "TEST_TWILIO_TOKEN": "twilio-token",
    "TEST_WHATSAPP_TOKEN": "EAAGtesttoken",
    "TEST_ONESIGNAL_KEY": "os-test-key",
    "TEST_FCM_TOKEN": "ya29.test-token",
    "TEST_WEBHOOK_SECRET": "test-secret",
}


def create_members(
    conn: duckdb.DuckDBPyConnection, count: int, relation: str = "marts.sync_test__members", bad_every: int = 0
) -> None:
    """A sync model: one row per person with traits; every `bad_every`-th email is refused by the stand-in."""
    conn.execute("create schema if not exists marts")
    domain = (
        f"case when i % {bad_every} = 0 then '@invalid.example' else '@example.com' end"
        if bad_every
        else "'@example.com'"
    )
    conn.execute(f"""
        create or replace table {relation} as
        select 'p' || lpad(cast(i as varchar), 7, '0') as person_id,
               'p' || i || {domain} as email,
               '+1555' || lpad(cast(i % 10000000 as varchar), 7, '0') as phone,
               'First' || i as first_name, 'Last' || i as last_name,
               case when i % 3 = 0 then 'gold' else 'silver' end as loyalty_tier,
               'active' as lifecycle_stage,
               i % 2 = 0 as consent_email, false as consent_sms
        from range(1, {count} + 1) t(i)
    """)


def create_plan(conn: duckdb.DuckDBPyConnection, people: int = 6) -> None:
    """dim_persons and fct_message_plan with the output contract's columns, a push-token sync
    model, and every channel planned for each person (some not yet due, some suppressed). The
    plan is built now, so that no sync refuses it as too old (max_plan_age_hours)."""
    conn.execute("create schema if not exists marts")
    conn.execute(f"""
        create or replace table marts.dim_persons as
        select 'p' || i as person_id, 'p' || i || '@example.com' as email,
               '+1555000' || lpad(cast(i as varchar), 4, '0') as phone,
               'First' || i as first_name, false as is_erased
        from range(1, {people} + 1) t(i)
    """)
    conn.execute(f"""
        create or replace table marts.fct_message_plan as
        select md5('p' || i || channel) as message_key, 'p' || i as person_id, 'welcome' as journey, 1 as step, channel,
               case when i = {people} then timestamp '2026-11-21 09:00:00'
                    else timestamp '2026-11-20 08:00:00' end as send_after,
               case when i = {people} - 1 then 'suppressed' else 'planned' end as status,
               case when i = {people} - 1 then 'no_consent' end as suppression_reason,
               timestamp '{utc_now():%Y-%m-%d %H:%M:%S}' as plan_built_at
        from range(1, {people} + 1) t(i), (values ('email'), ('sms'), ('whatsapp'), ('app_push'),
            ('web_push')) c(channel)
    """)
    conn.execute("""
        create or replace table marts.sync_fcm__messages as
        select p.*, 'fcm-token-' || p.person_id as push_token
        from marts.fct_message_plan p where channel in ('app_push', 'web_push')
    """)


@pytest.fixture
def secrets(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return SECRETS


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as conn:
        create_members(conn, 40)
        create_plan(conn)
    return path


@pytest.fixture
def standin():
    with Standin() as server:
        server["webhook"].signing_secret = SECRETS["TEST_WEBHOOK_SECRET"]
        yield server


def klaviyo_destination(base_url: str, **overrides) -> dict:
    entry = {
        "type": "klaviyo",
        "base_url": base_url,
        "credentials": {"api_key": "TEST_KLAVIYO_KEY"},
        "settings": {"list_id": "LIST1", "metric_name": "CDP Planned Message"},
        "max_attempts": 4,
        "timeout_seconds": 2,
        # The documented limits are exercised by `make bench-sync`; tests run unthrottled.
        "rate_limits": {
            name: {"per_second": 1000, "burst": 100}
            for name in ("bulk_import", "list_membership", "profile_import", "subscriptions", "events")
        },
    }
    return entry | overrides


def state_sync(**overrides) -> dict:
    entry = {
        "name": "members",
        "source": "marts.sync_test__members",
        "destination": "klaviyo",
        "kind": "state",
        "mode": "mirror",
        "key": "person_id",
        "fields": ["email", "first_name", "loyalty_tier", "consent_email"],
    }
    return entry | overrides


def make_config(
    destinations: dict, syncs: list[dict], merge_log: str | None = "marts.fct_person_merges"
) -> ActivationConfig:
    return parse_config({"destinations": destinations, "syncs": syncs, "merge_log": merge_log}, CHANNELS)
