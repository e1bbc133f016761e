"""The rules of erasure on small warehouses (no dbt): who the person is, what is kept, how a
later file cannot bring the person back, and how fresh consent does."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import duckdb
import pytest

from activation.state import migrate_warehouse, open_state
from cdp.contract import raw_contract
from cdp.erasure import (
    ERASED_SUBJECT,
    IDENTIFIER_COLUMNS,
    SALT_ENV,
    SUBJECT_COLUMNS,
    ErasureError,
    erase_requested_persons,
    rewrite_after_erasure,
)
from cdp.raw_loader import load_raw_dir
from cdp.steps import DbtStage, build_plan, python_steps
from cdp.warehouse import DuckDBWarehouse

AS_OF = datetime(2026, 11, 20, 9, 0)
CRM_HEADER = (
    "customer_id,email,phone,first_name,last_name,birth_date,street,city,postal_code,country,created_at,updated_at\n"
)
ALICE = "C1,alice.smith@example.com,07700 900123,Alice,Smith,1980-01-02,1 Acacia Avenue,Leeds,LS1 1AA,GB,2025-01-01,\n"
BOB = "C2,bob@example.com,,Bob,Jones,,,,,GB,2025-01-01,\n"
ALICE_VALUES = ("alice.smith@example.com", "+447700900123", "C1", "Alice", "Smith", "1 Acacia Avenue", "LS1 1AA")


def write_raw(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.csv").write_text(text)
    return folder


def load(warehouse: Path, raw_dir: Path):
    opened = DuckDBWarehouse(warehouse)
    try:
        return load_raw_dir(opened, raw_dir, raw_contract())
    finally:
        opened.close()


def rows(warehouse: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        return conn.execute(sql).fetchall()


def found(values, text: str) -> list[str]:
    """The ``values`` found in ``text`` as whole values ("C1" is not found in "C12" or in a hash)."""
    return [v for v in values if re.search(rf"(?<![a-z0-9]){re.escape(v.lower())}(?![a-z0-9])", text.lower())]


def everything(warehouse: Path) -> str:
    """Every value of every table of the warehouse, as one text."""
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        tables = conn.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'"
        ).fetchall()
        return "\n".join(
            str(conn.execute(f'select * from "{schema}"."{table}"').fetchall()) for schema, table in tables
        ).lower()


def previous_graph(warehouse: Path) -> None:
    """What the previous build's identity graph said: Alice is p_0001 with an e-mail, a phone and a CRM id."""
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema if not exists marts; create schema if not exists intermediate")
        conn.execute(
            "create table marts.bdg_person_identifiers as select * from (values "
            "('p_0001', 'email', 'alice.smith@example.com'), ('p_0001', 'phone', '+447700900123'), "
            "('p_0001', 'crm_customer_id', 'C1'), ('p_0002', 'crm_customer_id', 'C2')) "
            "t(person_id, identifier_type, identifier_value)"
        )
        # An incremental model dbt does not rebuild, and a log keyed by person.
        conn.execute(
            "create table intermediate.int_purchases_collected as select * from (values "
            "('order-1', 'C1', null), ('order-2', 'C2', null), ('order-3', null, '+447700900123')) "
            "t(purchase_id, crm_customer_id, phone)"
        )
        conn.execute(
            "create table intermediate.int_audience_membership_log as select * from (values "
            "('p_0001', 'champions'), ('p_0002', 'champions')) t(person_id, audience_name)"
        )


@pytest.fixture
def raw_dir(tmp_path) -> Path:
    return write_raw(
        tmp_path / "raw",
        crm_customers=CRM_HEADER + ALICE + BOB,
        # Alice's order carries only her CRM id: the graph says it is hers.
        orders="order_id,customer_id,email,phone,anonymous_id,channel,ordered_at,status,currency,total_amount,"
        "discount_amount,coupon_code\nO1,C1,,,,web,2026-01-01,delivered,GBP,10,0,\n"
        "O2,C2,,,,web,2026-01-01,delivered,GBP,10,0,\n",
        order_lines="order_id,line_number,product_id,quantity,unit_price\nO1,1,P1,1,10\nO2,1,P1,1,10\n",
        support_tickets="ticket_id,customer_id,email,phone,opened_at,closed_at,status,topic,csat_score\n"
        "T1,C1,alice.smith@example.com\n",  # a line that does not split, holding her e-mail
        erasure_requests="subject_type,subject_value,requested_at\nemail, Alice.Smith@Example.com ,2026-11-19\n",
    )


@pytest.fixture
def erased(tmp_path, raw_dir, monkeypatch) -> Path:
    monkeypatch.delenv(SALT_ENV, raising=False)
    warehouse = tmp_path / "w.duckdb"
    migrate_warehouse(warehouse)
    previous_graph(warehouse)
    load(warehouse, raw_dir)
    report = erase_requested_persons(warehouse, AS_OF)
    assert (report.persons, report.deferred) == (1, 0)
    return warehouse


def test_the_person_is_everything_the_previous_graph_links_to_the_subject(erased):
    assert rows(erased, "select customer_id from raw.crm_customers") == [("C2",)]
    assert rows(erased, "select order_id from raw.orders") == [("O2",)]  # by CRM id alone
    assert rows(erased, "select order_id from raw.order_lines") == [("O2",)]  # with the order it belongs to
    assert rows(erased, "select count(*) from raw.erasure_requests") == [(0,)]
    assert rows(erased, "select purchase_id from intermediate.int_purchases_collected") == [("order-2",)]
    assert rows(erased, "select person_id from intermediate.int_audience_membership_log") == [("p_0002",)]
    assert rows(erased, "select person_id, is_erased from privacy.erased_persons") == [("p_0001", True)]


def test_only_keyed_hashes_are_kept_and_nothing_of_the_person_anywhere(erased):
    kept = rows(erased, "select identifier_type, identifier_hash from privacy.erased_identifiers order by 1")
    assert [kind for kind, _ in kept] == ["crm_customer_id", "email", "phone"]
    assert all(len(digest) == 64 for _, digest in kept)
    assert found(ALICE_VALUES, everything(erased)) == []


def test_dropped_rows_are_quarantined_with_where_they_were_and_no_value(erased):
    issues = rows(
        erased, "select source_table, source_file, source_line, raw_text from raw.cdp_load_issues order by 1, 3"
    )
    assert issues == [
        ("crm_customers", "crm_customers.csv", 1, None),
        ("erasure_requests", "erasure_requests.csv", 1, None),
        ("order_lines", "order_lines.csv", 1, None),
        ("orders", "orders.csv", 1, None),
        ("support_tickets", "support_tickets.csv", 2, None),
    ]
    assert {reason for (reason,) in rows(erased, "select reason from raw.cdp_load_issues")} == {ERASED_SUBJECT}


def test_a_later_file_does_not_bring_the_person_back(erased, raw_dir):
    new_row = "C7,ALICE.SMITH@example.com,,Alice,Smith,,,,,GB,2026-11-21,\n"  # a new CRM id, her e-mail
    write_raw(raw_dir, crm_customers=CRM_HEADER + ALICE + BOB + new_row)
    report = load(erased, raw_dir)
    assert rows(erased, "select customer_id from raw.crm_customers") == [("C2",)]
    # Two CRM rows, the request, the order and its line (the ticket line only loses its text).
    assert report.erased_rows == 5
    assert found(ALICE_VALUES, everything(erased)) == []


def test_consent_after_the_erasure_lifts_it_for_that_identifier(erased, raw_dir):
    new_row = "C7,alice.smith@example.com,,Alice,Smith,,,,,GB,2026-11-21,\n"
    write_raw(
        raw_dir,
        crm_customers=CRM_HEADER + ALICE + BOB + new_row,
        consents="subject_type,subject_value,channel,purpose,status,recorded_at,source\n"
        "email,alice.smith@example.com,email,marketing,granted,2026-11-21T10:00:00Z,signup_form\n",
    )
    load(erased, raw_dir)
    # The e-mail is consented again; her old CRM row still carries the erased CRM id and phone.
    assert rows(erased, "select customer_id from raw.crm_customers order by 1") == [("C2",), ("C7",)]
    assert rows(erased, "select count(*) from raw.consents") == [(1,)]


def test_a_consent_before_the_erasure_lifts_nothing(erased, raw_dir):
    write_raw(
        raw_dir,
        consents="subject_type,subject_value,channel,purpose,status,recorded_at,source\n"
        "email,alice.smith@example.com,email,marketing,granted,2026-11-01T10:00:00Z,signup_form\n",
    )
    load(erased, raw_dir)
    assert rows(erased, "select count(*) from raw.consents") == [(0,)]


def test_a_subject_the_previous_graph_does_not_know_waits_one_build(tmp_path, raw_dir, monkeypatch):
    monkeypatch.delenv(SALT_ENV, raising=False)
    warehouse = tmp_path / "w.duckdb"
    migrate_warehouse(warehouse)
    load(warehouse, raw_dir)
    first = erase_requested_persons(warehouse, AS_OF)
    assert (first.persons, first.deferred) == (0, 1)
    assert rows(warehouse, "select count(*) from raw.erasure_requests") == [(1,)]  # dim_persons flags the person
    second = erase_requested_persons(warehouse, AS_OF)
    assert (second.persons, second.deferred) == (1, 0)  # no graph knows more: her own identifier
    assert rows(warehouse, "select customer_id from raw.crm_customers") == [("C2",)]


def test_the_salt_comes_from_the_environment_and_a_changed_one_is_refused(tmp_path, raw_dir, monkeypatch):
    monkeypatch.setenv(SALT_ENV, "first salt")
    warehouse = tmp_path / "w.duckdb"
    migrate_warehouse(warehouse)
    previous_graph(warehouse)
    load(warehouse, raw_dir)
    erase_requested_persons(warehouse, AS_OF)
    assert rows(warehouse, "select salt, salt_source from privacy.erasure_salt") == [(None, "env")]
    monkeypatch.setenv(SALT_ENV, "another salt")
    with pytest.raises(ErasureError, match=f"differs from the one.*set {SALT_ENV} back"):
        load(warehouse, raw_dir)


def test_without_the_environment_the_warehouse_keeps_its_own_salt(erased):
    ((salt, source),) = rows(erased, "select salt, salt_source from privacy.erasure_salt")
    assert source == "warehouse" and len(bytes.fromhex(salt)) == 32


def test_activation_keeps_no_message_event_or_log_of_the_person(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    migrate_warehouse(warehouse)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            "insert into activation.send_ledger (message_key, sync_name, destination, person_id, status, error, "
            "intent_at, sync_run_id) values ('m1', 'email', 'sendgrid', 'p_0001', 'rejected', "
            "'400 for alice.smith@example.com', now(), 'r1'), ('m2', 'email', 'sendgrid', 'p_0002', 'sent', null, "
            "now(), 'r1')"
        )
        conn.execute(
            "insert into activation.message_events (message_event_id, message_key, provider, destination, "
            "person_id, recipient, event_type, occurred_at, sync_run_id) values "
            "('e1', 'm1', 'sendgrid', 'sendgrid', 'p_0001', 'alice.smith@example.com', 'failed', now(), 'r1'), "
            "('e2', 'm2', 'sendgrid', 'sendgrid', 'p_0002', 'bob@example.com', 'sent', now(), 'r1')"
        )
        conn.execute(
            "insert into activation.sync_log (sync_run_id, sync_name, record_key, operation, status, logged_at) "
            "values ('r1', 'email', 'm1', 'send', 'rejected', now()), "
            "('r1', 'members', 'p_0001', 'add', 'ok', now()), ('r1', 'members', 'p_0002', 'add', 'ok', now())"
        )
    with open_state(warehouse, read_only=False) as store:
        counts = store.erase_persons(["p_0001"], ["alice.smith@example.com"])
    assert counts == {"message_events": 1, "sync_log": 2, "rejected_rows": 0, "send_ledger": 1}
    # The ledger keeps the key and outcome, so that nothing is sent twice.
    assert rows(warehouse, "select message_key, status, error from activation.send_ledger order by 1") == [
        ("m1", "rejected", None),
        ("m2", "sent", None),
    ]
    assert rows(warehouse, "select record_key from activation.sync_log") == [("p_0002",)]


def test_stale_blocks_go_with_a_rewrite_of_the_file(erased):
    with duckdb.connect(str(erased)) as conn:
        conn.execute("checkpoint")
    assert rewrite_after_erasure(erased)
    assert found(ALICE_VALUES, erased.read_bytes().decode("latin-1")) == []
    assert rows(erased, "select customer_id from raw.crm_customers") == [("C2",)]
    assert not rewrite_after_erasure(erased)  # once per erasure


def test_every_raw_table_with_personal_data_has_an_identifier_the_erasure_reads():
    for table in raw_contract().values():
        if any(column.is_pii for column in table.columns):
            readable = {c.name for c in table.columns} & {*IDENTIFIER_COLUMNS, *SUBJECT_COLUMNS}
            assert readable, f"{table.name}: personal data without an identifier column cdp.erasure knows"


def test_the_erasure_step_runs_before_every_dbt_stage():
    plan = build_plan(python_steps())
    first_stage = next(index for index, item in enumerate(plan) if isinstance(item, DbtStage))
    erasure = next(index for index, item in enumerate(plan) if getattr(item, "output_source", None) == "cdp_privacy")
    assert erasure < first_stage


def test_dagster_runs_the_erasure_step_as_an_asset_of_the_build():
    from dagster import AssetKey

    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    for table in ("erased_identifiers", "erased_persons", "erasure_log"):
        assert graph.get(AssetKey(["cdp_privacy", table])).is_materializable
