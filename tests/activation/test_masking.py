"""No personal value or secret reaches a log record or an error column, even when the
provider echoes what it was sent.

The run carries canary names, e-mail addresses, phone numbers and API keys; the stand-in
refuses requests with 400s that quote the whole request body back (and Klaviyo's import
job fails a row and reports it), so every error path that stores a provider's words is
taken. Every log record at INFO and above (activation's at DEBUG, which has a line per
batch), what the progress display was given, every `*error*` column of every activation
table, the reports and the command's output are then searched for the canaries.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import quote_plus

import duckdb

from activation.engine import run_syncs
from activation.http import MASK, mask_personal
from activation.standins import JOB_ERROR_MARK, Fault
from tests.activation.conftest import NOW, SECRETS, create_members, create_plan, klaviyo_destination, make_config
from tests.activation.test_jobs import sendgrid_destination
from tests.activation.test_sync_progress import RecordingProgress

CANARY_NAME = "Zebulonia"


def canary_warehouse(path) -> list[str]:
    """A warehouse whose people carry canary values; the values to look for."""
    with duckdb.connect(str(path)) as conn:
        create_members(conn, 12)
        create_plan(conn, people=6)
        conn.execute(f"update marts.sync_test__members set first_name = '{CANARY_NAME}' || person_id")
        conn.execute(
            f"update marts.sync_test__members set email = 'canary-' || person_id || '{JOB_ERROR_MARK}' "
            "where person_id = 'p0000005'"
        )
        conn.execute(
            f"update marts.dim_persons set first_name = '{CANARY_NAME}' || person_id, "
            "email = 'canary.' || person_id || '@example.org', phone = '+1555765432' || substr(person_id, 2)"
        )
        values = conn.execute(
            "select first_name from marts.sync_test__members union all select email from marts.sync_test__members "
            "union all select phone from marts.sync_test__members union all select first_name from marts.dim_persons "
            "union all select email from marts.dim_persons union all select phone from marts.dim_persons"
        ).fetchall()
    return [v for (v,) in values] + list(SECRETS.values())


def error_columns(warehouse) -> list[tuple[str, str, str]]:
    """(table, column, value) of every non-empty error column of the activation schema."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        columns = conn.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'activation' and column_name like '%error%'"
        ).fetchall()
        found = []
        for table, column in columns:
            rows = conn.execute(f'select "{column}" from activation."{table}" where "{column}" is not null').fetchall()
            found += [(table, column, value) for (value,) in rows]
        return found


def test_no_personal_value_or_secret_in_logs_or_error_columns(tmp_path, standin, secrets, caplog, capsys):
    warehouse = tmp_path / "w.duckdb"
    canaries = canary_warehouse(warehouse)
    twilio = {
        "type": "twilio",
        "base_url": standin.url,
        "credentials": {"account_sid": "TEST_TWILIO_SID", "auth_token": "TEST_TWILIO_TOKEN"},
        "rate_limits": {"messages": {"per_second": 1000, "burst": 100}},
        "settings": {"from": "+15005550006", "templates": {"welcome": "Hello {first_name}"}},
        "max_attempts": 3,
        "timeout_seconds": 2,
    }
    sendgrid = sendgrid_destination(
        standin.url, settings={"from_email": "shop@example.net", "templates": {"default": "d-1"}}
    )
    syncs = [
        {
            "name": "members",
            "source": "marts.sync_test__members",
            "destination": "klaviyo",
            "kind": "state",
            "key": "person_id",
            "fields": ["email", "phone", "first_name"],
        },
        {
            "name": "texts",
            "source": "marts.fct_message_plan",
            "destination": "twilio",
            "kind": "message",
            "channels": ["sms"],
            "join": {"relation": "marts.dim_persons", "columns": ["phone", "first_name"]},
        },
        {
            "name": "mails",
            "source": "marts.fct_message_plan",
            "destination": "sendgrid",
            "kind": "message",
            "channels": ["email"],
            "join": {"relation": "marts.dim_persons", "columns": ["email", "first_name"]},
        },
    ]
    config = make_config(
        {
            "klaviyo": klaviyo_destination(standin.url, batch_sizes={"upsert": 4}),
            "twilio": twilio,
            "sendgrid": sendgrid,
        },
        syncs,
        merge_log=None,
    )
    standin.add_fault(Fault("reject", count=3, path_contains="/api/profile-bulk-import-jobs"))
    standin.add_fault(Fault("error", count=1, path_contains="Messages.json"))
    standin.add_fault(Fault("reject", count=2, path_contains="Messages.json"))
    standin.add_fault(Fault("reject", count=20, path_contains="/v3/mail/send"))
    progress = RecordingProgress()
    with caplog.at_level(logging.INFO), caplog.at_level(logging.DEBUG, logger="activation"):
        reports = run_syncs(warehouse, config, now=NOW, progress=progress)

    stored = error_columns(warehouse)
    # The provider's words are kept (codes, field names), with what it echoed masked.
    assert {table for table, _, _ in stored} >= {"sync_log", "rejected_rows", "send_ledger"}
    echoed = [value for _, _, value in stored if '"code":"invalid"' in value.replace(" ", "")]
    assert echoed and all(MASK in value for value in echoed)
    assert any(r.rejected for r in reports) and all(r.status == "needs_attention" for r in reports)

    texts = [f"{table}.{column}: {value}" for table, column, value in stored]
    texts += [record.getMessage() for record in caplog.records]
    assert any(record.levelno == logging.DEBUG and " rows sent " in record.getMessage() for record in caplog.records)
    assert [description for description, *_ in progress.shown] == ["sync members", "sync texts", "sync mails"]
    texts += [f"{description} {total} {unit}" for description, total, unit, _ in progress.shown]
    texts += [str(r) for r in reports]
    out = capsys.readouterr()
    texts += [out.out, out.err]
    leaks = [(canary, text) for canary in canaries for text in texts if canary in text]
    assert not leaks, leaks[:5]


def test_masking_keeps_codes_and_field_names_and_hides_what_was_sent():
    text = '{"code":21211,"field":"To","detail":"Zeb O\\u2019Brien at zeb@example.org, +44 20 7946 0958"}'
    masked = mask_personal(text, {"Zeb O\u2019Brien"})
    assert masked == f'{{"code":21211,"field":"To","detail":"{MASK} at {MASK}, {MASK}"}}'


def test_masking_finds_a_value_however_the_provider_quoted_it():
    name = "José Núñez"
    for echo in (
        json.dumps({"detail": f"{name} is invalid"}),  # JSON with \u escapes
        json.dumps({"detail": f"{name} is invalid"}, ensure_ascii=False),
        "detail=" + quote_plus(f"{name} is invalid"),  # a form body echoed back
    ):
        assert name not in mask_personal(echo, {name}) and MASK in mask_personal(echo, {name}), echo
        assert "invalid" in mask_personal(echo, {name})
