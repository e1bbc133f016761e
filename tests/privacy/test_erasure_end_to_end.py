"""An erasure request removes the person from the whole warehouse: the demo is built and
synced, an erasure request for Liam (e-mail, phone, name, address, messages sent, a
quarantined CRM row) arrives with the next files, the warehouse is built and synced
again, and then no table of any schema, and no byte of the file, holds any of his
identifiers, his name or his address."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from cdp.build import demo_as_of
from cdp.paths import demo_raw_dir
from cdp.sync_cli import sync_to_standins
from tests.conftest import build_warehouse, query, summary_of, warehouse_at

pytestmark = pytest.mark.slow  # two demo builds and two syncs

LIAM_EMAIL = "liam.murphy@example.com"


def liam(warehouse: Path) -> str:
    return query(
        warehouse, "select person_id from marts.bdg_person_identifiers where identifier_value = ?", [LIAM_EMAIL]
    )[0][0]


def sync(warehouse: Path):
    with warehouse_at(warehouse):
        return sync_to_standins(now=demo_as_of())


@pytest.fixture(scope="module")
def erased(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("erasure")
    raw_dir = root / "raw"
    shutil.copytree(demo_raw_dir(), raw_dir)
    warehouse = build_warehouse(root / "cdp.duckdb", raw_dir=raw_dir, as_of=demo_as_of())
    first_sync = sync(warehouse)
    person = liam(warehouse)
    before = {
        "identifiers": query(
            warehouse,
            "select identifier_type, identifier_value from marts.bdg_person_identifiers where person_id = ?",
            [person],
        ),
        "profile": query(
            warehouse,
            "select first_name, last_name, cast(birth_date as varchar), street, postal_code, phone "
            "from marts.dim_persons where person_id = ?",
            [person],
        )[0],
        "sent": query(
            warehouse, "select count(*) from activation.send_ledger where person_id = ? and status = 'sent'", [person]
        )[0][0],
        "events": query(warehouse, "select count(*) from activation.message_events where person_id = ?", [person])[0][
            0
        ],
        "synced": query(warehouse, "select count(*) from activation.sync_state where record_key = ?", [person])[0][0],
        "quarantined": query(
            warehouse, "select count(*) from marts.fct_quarantined_rows where raw_row like '%Murphy%'"
        )[0][0],
    }
    with (raw_dir / "erasure_requests.csv").open("a") as requests:
        requests.write(f"email,{LIAM_EMAIL.upper()},2026-11-19T12:00:00Z,liam_erasure\n")
    build_warehouse(warehouse, raw_dir=raw_dir, as_of=demo_as_of())
    second_sync = sync(warehouse)
    export = root / "export"
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(f"export database '{export}' (format csv)")
        conn.execute("checkpoint")
    return {
        "warehouse": warehouse,
        "person": person,
        "before": before,
        "first_sync": first_sync,
        "second_sync": second_sync,
        "export": export,
    }


def needles(erased: dict) -> list[str]:
    """Liam's identifiers, names, birth date and address (his phone also as the CRM file writes it), and
    Ethan's e-mail (the demo's own erasure request)."""
    identifiers = {value for _, value in erased["before"]["identifiers"]}
    return sorted({*identifiers, *erased["before"]["profile"], "020 7946 0312", "ethan.clark@example.com"})


def found_in(text: str, erased: dict) -> list[str]:
    # Whole values only: "Liam" is not found in "William".
    return [
        needle
        for needle in needles(erased)
        if re.search(rf"(?<![a-z0-9]){re.escape(needle.lower())}(?![a-z0-9])", text.lower())
    ]


def test_the_person_had_everything_the_erasure_must_remove(erased):
    before = erased["before"]
    assert {"crm_customer_id", "email", "phone"} <= {kind for kind, _ in before["identifiers"]}
    assert all(before["profile"]), before["profile"]
    assert before["sent"] >= 1 and before["events"] >= 1
    assert before["synced"] >= 1
    assert before["quarantined"] >= 1


def test_no_table_of_any_schema_holds_the_person(erased):
    found = {}
    files = sorted(erased["export"].glob("*.csv"))
    assert len(files) > 100  # every table of every schema
    for path in files:
        hits = found_in(path.read_text(errors="replace"), erased)
        if hits:
            found[path.name] = hits
    assert not found


def test_no_byte_of_the_file_holds_the_person(erased):
    assert found_in(erased["warehouse"].read_bytes().decode("latin-1"), erased) == []


def test_only_hashes_and_person_ids_are_kept(erased):
    warehouse = erased["warehouse"]
    kinds = {kind for (kind,) in query(warehouse, "select identifier_type from privacy.erased_identifiers")}
    assert {"email", "phone", "crm_customer_id"} <= kinds
    assert all(
        len(digest) == 64 for (digest,) in query(warehouse, "select identifier_hash from privacy.erased_identifiers")
    )
    assert (erased["person"], True) in query(warehouse, "select person_id, is_erased from privacy.erased_persons")


def test_the_rows_still_in_the_files_are_quarantined_without_their_values(erased):
    rows = query(
        erased["warehouse"],
        "select source_table, raw_row from marts.fct_quarantined_rows where reason = 'erased_subject'",
    )
    assert {"crm_customers", "erasure_requests", "consents"} <= {table for table, _ in rows}
    assert {raw_row for _, raw_row in rows} == {None}


def test_the_providers_were_asked_to_delete_the_person(erased):
    reports = {report.sync: report for report in erased["second_sync"].reports}
    assert reports["klaviyo_members"].deletions_done >= 1 and reports["sendgrid_contacts"].deletions_done >= 1
    assert (
        query(
            erased["warehouse"],
            "select count(*) from activation.provider_deletions where record_key = ? and status = 'done'",
            [erased["person"]],
        )[0][0]
        >= 2
    )


def test_the_build_report_counts_persons_and_rows_per_table(erased):
    lines = summary_of(erased["warehouse"])
    header = next(line for line in lines if line.startswith("Erasure as of"))
    assert "2 persons erased" in header  # Liam, and Ethan, whose request waited for a graph that knows him
    assert any(line.split() == ["raw.crm_customers", "3"] for line in lines)
    assert found_in("\n".join(lines), erased) == []
