"""List memberships of state syncs follow consent at sync time, as sends do: a person who
revoked marketing consent after the build leaves the provider's list at the next sync, and a
channel revoked while another is still granted is unsubscribed in the payload."""

from __future__ import annotations

import json
from functools import partial

import duckdb
import pytest

from activation.engine import run_syncs
from activation.standins import Standin
from cdp.phones import to_e164
from tests.activation.conftest import NOW, SECRETS, create_members, klaviyo_destination, make_config, state_sync

PHONE_TO_E164 = partial(to_e164, region="GB")
HEADER = "subject_type,subject_value,channel,purpose,status,recorded_at,source\n"


@pytest.fixture
def standin(monkeypatch):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with Standin() as server:
        yield server


@pytest.fixture
def warehouse(tmp_path):
    """Six list members, every one granted e-mail and SMS marketing at the build."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        create_members(conn, 6)
        conn.execute("create schema intermediate")
        conn.execute("""
            create table marts.bdg_person_identifiers as
            select person_id, 'email' as identifier_type, email as identifier_value from marts.sync_test__members
        """)
        conn.execute("""
            create table intermediate.int_person_consents_resolved as
            select person_id, c.channel, 'marketing' as purpose, 'granted' as consent_status,
                   timestamp '2025-01-01 10:00:00' as recorded_at, md5(person_id || c.channel) as consent_event_id,
                   'email' as subject_type, c.channel as recorded_channel
            from marts.sync_test__members, (values ('email'), ('sms')) c(channel)
        """)
    return path


def config(standin, consent_channels: list[str]):
    sync = state_sync(fields=["email", "first_name", "consent_email", "consent_sms"], consent_channels=consent_channels)
    return make_config({"klaviyo": klaviyo_destination(standin.url)}, [sync], merge_log=None)


def revocations(tmp_path, *rows: str):
    path = tmp_path / "consents.csv"
    path.write_text(
        HEADER + "".join(f"email,{row},marketing,revoked,2026-11-20T08:30:00Z,preference_centre\n" for row in rows)
    )
    return path


def members(standin) -> set[str]:
    return standin["klaviyo"].members.get("LIST1", set())


def sync(warehouse, settings, consents_file=None):
    (report,) = run_syncs(warehouse, settings, now=NOW, consents_file=consents_file, phone_to_e164=PHONE_TO_E164)
    assert report.status == "succeeded", (report.attention_reasons(), report.error)
    return report


def test_a_person_who_revoked_since_the_build_leaves_the_list(warehouse, standin, tmp_path):
    settings = config(standin, ["email"])
    sync(warehouse, settings)
    assert "p0000003" in members(standin) and len(members(standin)) == 6
    report = sync(warehouse, settings, revocations(tmp_path, "p3@example.com,email"))
    assert report.removes == 1
    assert members(standin) == {f"p000000{i}" for i in (1, 2, 4, 5, 6)}
    assert "consents checked at sync time: 1 persons left the list since the build" in report.sample


def test_a_channel_revoked_while_another_is_granted_is_unsubscribed(warehouse, standin, tmp_path):
    settings = config(standin, ["email", "sms"])
    sync(warehouse, settings)
    report = sync(warehouse, settings, revocations(tmp_path, "p2@example.com,email"))
    assert report.removes == 0 and report.changes == 1
    assert "p0000002" in members(standin)
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        (payload,) = conn.execute("select payload from activation.sync_state where record_key = 'p0000002'").fetchone()
    assert json.loads(payload)["consent_email"] is False


def test_without_consent_channels_a_state_sync_keeps_the_build_s_consent(warehouse, standin, tmp_path):
    settings = config(standin, [])
    sync(warehouse, settings)
    sync(warehouse, settings, revocations(tmp_path, "p3@example.com,email"))
    assert "p0000003" in members(standin)
