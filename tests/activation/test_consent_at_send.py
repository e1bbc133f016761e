"""Consent is checked again just before sending: a revocation recorded after the plan was
built (or stamped after the build's as-of) cancels the message, and every send records
the consent event that allowed it."""

from __future__ import annotations

from functools import partial

import duckdb
import pytest

from activation.engine import CONSENT_REVOKED, run_syncs
from cdp.explain import Subject, sends_section
from cdp.phones import to_e164
from tests.activation.conftest import NOW, create_plan, klaviyo_destination, make_config

PHONE_TO_E164 = partial(to_e164, region="GB")
# p1..p4 are due on every channel; p5 is suppressed, p6 not due yet (create_plan).
PHONES = {f"p{i}": f"+4479111234{i:02d}" for i in range(1, 7)}
HEADER = "subject_type,subject_value,channel,purpose,status,recorded_at,source\n"


@pytest.fixture
def consent_warehouse(tmp_path):
    """A built warehouse's consent tables: every person granted e-mail and SMS marketing in 2025."""
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        create_plan(conn)
        conn.execute("alter table marts.fct_message_plan add column purpose varchar default 'promotional'")
        conn.execute("update marts.dim_persons set phone = '+4479111234' || lpad(substr(person_id, 2), 2, '0')")
        conn.execute("create schema intermediate; create schema staging")
        conn.execute("""
            create table marts.bdg_person_identifiers as
            select person_id, 'email' as identifier_type, email as identifier_value from marts.dim_persons
            union all select person_id, 'phone', phone from marts.dim_persons
            union all select person_id, 'crm_customer_id', 'C' || substr(person_id, 2) from marts.dim_persons
        """)
        conn.execute("""
            create table intermediate.int_person_consents_resolved as
            select person_id, c.channel, 'marketing' as purpose, 'granted' as consent_status,
                   timestamp '2025-01-01 10:00:00' as recorded_at, md5(person_id || c.channel) as consent_event_id,
                   'email' as subject_type, c.channel as recorded_channel
            from marts.dim_persons, (values ('email'), ('sms')) c(channel)
        """)
        conn.execute("""
            create table staging.stg_privacy__consents as
            select consent_event_id, 'signup_form' as consent_source from intermediate.int_person_consents_resolved
        """)
    return path


def sync_config(standin):
    twilio = {
        "type": "twilio",
        "base_url": standin.url,
        "credentials": {"account_sid": "TEST_TWILIO_SID", "auth_token": "TEST_TWILIO_TOKEN"},
        "rate_limits": {"messages": {"per_second": 1000, "burst": 100}},
        "settings": {"from": "+15005550006", "templates": {"welcome": "Hello {first_name}"}},
    }
    join = {"relation": "marts.dim_persons", "columns": ["email", "phone", "first_name"]}
    syncs = [
        {"name": "email", "source": "marts.fct_message_plan", "destination": "klaviyo", "kind": "message",
         "channels": ["email"], "join": join},
        {"name": "sms", "source": "marts.fct_message_plan", "destination": "twilio", "kind": "message",
         "channels": ["sms"], "join": join},
    ]  # fmt: skip
    return make_config({"klaviyo": klaviyo_destination(standin.url), "twilio": twilio}, syncs)


def ledger(warehouse) -> dict[tuple[str, str], tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select person_id, channel, status, error, consent_event_id, consent_source from activation.send_ledger"
        ).fetchall()
    return {(person, channel): rest for person, channel, *rest in rows}


def test_a_revocation_after_the_plan_cancels_the_message_and_is_recorded(consent_warehouse, standin, secrets, tmp_path):
    events = tmp_path / "consents.csv"
    events.write_text(
        HEADER
        # By e-mail, written as a person types it: normalised like staging.
        + "email, P1@Example.COM ,email,marketing,revoked,2026-11-19T12:00:00Z,preference_centre\n"
        # By phone in national format: to E.164 with the project's function.
        + f"phone,0{PHONES['p2'][3:7]} {PHONES['p2'][7:]},sms,marketing,revoked,2026-11-19T12:00:00Z,sms_stop\n"
        # By customer id for every channel, stamped after the run's as-of (NOW): it counts too.
        + "customer_id,C3,all,marketing,revoked,2026-11-21T08:00:00Z,call_centre\n"
        # Revoked, then granted again: the latest word wins and is what allows the send.
        + "email,p4@example.com,email,marketing,revoked,2026-11-18T12:00:00Z,preference_centre\n"
        + "email,p4@example.com,email,marketing,granted,2026-11-19T12:00:00Z,app\n"
        # A subject the identity graph does not know: reported, no one to cancel for.
        + "email,stranger@example.com,email,marketing,revoked,2026-11-19T12:00:00Z,preference_centre\n"
    )
    reports = run_syncs(
        consent_warehouse, sync_config(standin), now=NOW, consents_file=events, phone_to_e164=PHONE_TO_E164
    )
    assert [(r.sync, r.status, r.cancelled) for r in reports] == [("email", "succeeded", 2), ("sms", "succeeded", 2)], [
        r.error for r in reports
    ]
    assert "6 new consent events, 1 of unknown subjects" in " ".join(reports[0].sample)
    sent = ledger(consent_warehouse)
    cancelled = {key for key, (status, *_) in sent.items() if status == "cancelled"}
    assert cancelled == {("p1", "email"), ("p2", "sms"), ("p3", "email"), ("p3", "sms")}
    assert all(sent[key][1] == CONSENT_REVOKED for key in cancelled)
    # Never sent: the stand-ins got only the others.
    assert set(standin.deliveries) == _keys(consent_warehouse, "email", "sent")  # Klaviyo events: p2 and p4
    assert len(standin.deliveries) == 2
    assert sorted(m["To"] for m in standin["twilio"].messages) == [PHONES["p1"], PHONES["p4"]]
    # Each send records the consent that allowed it: the plan's, or the newer grant.
    assert sent[("p2", "email")][2:] == [_event_id("p2", "email"), "signup_form"]
    assert sent[("p4", "email")][0] == "sent" and sent[("p4", "email")][3] == "app"
    with duckdb.connect(str(consent_warehouse), read_only=True) as conn:
        logged = conn.execute(
            "select count(*) from activation.sync_log where status = 'cancelled' and error = ?", [CONSENT_REVOKED]
        ).fetchone()[0]
        section = sends_section(conn, Subject(query="p4", person_id="p4"))
    assert logged == 4
    text = "\n".join(section.lines)
    assert "allowed by consent event" in text and "purpose marketing" in text and "source app" in text
    assert "recorded 2026-11-19 12:00 UTC" in text and "email subject, channel email" in text


def test_without_new_events_the_plans_consents_allow_every_send(consent_warehouse, standin, secrets):
    reports = run_syncs(consent_warehouse, sync_config(standin), now=NOW, phone_to_e164=PHONE_TO_E164)
    assert [(r.status, r.cancelled, r.ok) for r in reports] == [("succeeded", 0, 4), ("succeeded", 0, 4)]
    assert all(event_id for _, _, event_id, _ in ledger(consent_warehouse).values())


def test_a_consents_file_that_does_not_exist_is_a_clear_error(consent_warehouse, standin, secrets, tmp_path):
    missing = tmp_path / "nowhere.csv"
    report = run_syncs(
        consent_warehouse, sync_config(standin), now=NOW, consents_file=missing, phone_to_e164=PHONE_TO_E164
    )[0]
    assert report.status == "failed" and f"consent events file {missing} does not exist" in report.error


def _keys(warehouse, channel: str, status: str) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        rows = conn.execute(
            "select message_key from activation.send_ledger where channel = ? and status = ?", [channel, status]
        ).fetchall()
    return {key for (key,) in rows}


def _event_id(person: str, channel: str) -> str:
    import hashlib

    return hashlib.md5(f"{person}{channel}".encode()).hexdigest()


def test_an_interrupted_send_is_asked_about_before_a_revocation_cancels_it(
    consent_warehouse, standin, secrets, tmp_path
):
    """p1's and p2's SMS were cut off between intent and outcome; both revoked since. Twilio
    has p1's (it went out before the revocation: recorded as sent), not p2's (cancelled)."""
    import email.utils
    from datetime import UTC, datetime

    from activation.state import migrate_warehouse, utc_now

    migrate_warehouse(consent_warehouse)
    with duckdb.connect(str(consent_warehouse)) as conn:
        conn.execute("""
            insert into activation.send_ledger (message_key, sync_name, destination, person_id, channel, journey,
                                                step, status, attempts, intent_at, sync_run_id)
            select message_key, 'sms', 'twilio', person_id, channel, journey, cast(step as varchar), 'pending', 1,
                   ?, 'crashed-run'
            from marts.fct_message_plan where channel = 'sms' and person_id in ('p1', 'p2')
        """, [utc_now()])  # fmt: skip
    standin["twilio"].resources.append(
        {"sid": "SM-before-crash", "to": PHONES["p1"], "body": "Hello First1", "status": "delivered",
         "date_created": email.utils.format_datetime(datetime.now(UTC))}
    )  # fmt: skip
    events = tmp_path / "consents.csv"
    events.write_text(
        HEADER
        + "".join(f"email,{p}@example.com,sms,marketing,revoked,2026-11-20T08:30:00Z,stop\n" for p in ("p1", "p2"))
    )
    sms = run_syncs(
        consent_warehouse, sync_config(standin), now=NOW, consents_file=events, phone_to_e164=PHONE_TO_E164
    )[1]
    assert (sms.ok, sms.cancelled) == (3, 1)  # p1 found at Twilio, p3 and p4 sent; p2 cancelled
    with duckdb.connect(str(consent_warehouse), read_only=True) as conn:
        rows = dict(
            conn.execute(
                "select person_id, status || ':' || coalesce(provider_message_id, error) from activation.send_ledger "
                "where channel = 'sms' and person_id in ('p1', 'p2')"
            ).fetchall()
        )
    assert rows == {"p1": "sent:SM-before-crash", "p2": f"cancelled:{CONSENT_REVOKED}"}
    assert sorted(m["To"] for m in standin["twilio"].messages) == [PHONES["p3"], PHONES["p4"]]
