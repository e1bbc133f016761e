"""`cdp build` on the bundled demo data, and the CLI's errors."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

from cdp.contract import raw_contract
from tests.conftest import query, summary_of


def test_the_demo_builds_every_raw_table_and_each_bad_row_kind(demo_warehouse):
    for table in raw_contract():
        assert query(demo_warehouse, f"select count(*) from raw.{table}")[0][0] > 0, f"demo data has no {table}"
    reasons = {reason for (reason,) in query(demo_warehouse, "select distinct reason from marts.fct_quarantined_rows")}
    assert {
        "invalid_email",
        "invalid_phone",
        "null_key",
        "duplicate_key",
        "exact_duplicate",
        "timestamp_after_as_of",
        "unknown_enum_value",
        "unparseable_required_value",
        "invalid_subject_value",
        "malformed_line",
    } <= reasons


def test_the_demo_normalises_messy_identifiers(demo_warehouse):
    """Tom's e-mail arrives in three spellings and his phone in two formats."""
    emails = query(
        demo_warehouse, "select distinct email from staging.stg_loyalty__members where loyalty_card_id = 'L1002'"
    )
    assert emails == [("tom.baker@example.com",)]
    phones = {
        phone
        for (phone,) in query(
            demo_warehouse,
            """
        select phone from staging.stg_crm__customers where crm_customer_id = 'C1002'
        union all select phone from staging.stg_loyalty__members where loyalty_card_id = 'L1002'""",
        )
    }
    assert phones == {"+442079460101"}


def test_the_summary_reports_layers_and_quarantine(demo_warehouse):
    lines = summary_of(demo_warehouse)
    text = "\n".join(lines)
    assert "staging" in text and "marts" in text
    quarantined = query(demo_warehouse, "select count(*) from marts.fct_quarantined_rows")[0][0]
    section = list(
        itertools.takewhile(lambda line: line.startswith("  "), lines[lines.index("Quarantined rows by reason:") + 1 :])
    )
    reported = sum(int(line.split()[-1].replace(",", "")) for line in section)
    assert reported == quarantined


def test_cli_reports_a_contract_error_without_a_traceback(tmp_path):
    (tmp_path / "orders.csv").write_text("order_id,customer_id\nO1,C1\n")
    result = subprocess.run(
        [sys.executable, "-m", "cdp.cli", "build", "--raw-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        env={"CDP_WAREHOUSE": str(tmp_path / "w.duckdb"), "PATH": ""},
    )
    assert result.returncode == 2
    assert "orders.csv" in result.stderr and "'email'" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_rejects_an_unreadable_as_of(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "cdp.cli", "build", "--as-of", "last tuesday"],
        capture_output=True,
        text=True,
        env={"CDP_WAREHOUSE": str(tmp_path / "w.duckdb"), "PATH": ""},
    )
    assert result.returncode == 2 and "ISO-8601" in result.stderr


def test_cli_stops_quietly_when_its_reader_goes_away(tmp_path):
    # `cdp contract | head -1`, without the race: the pipe's reading end is closed before
    # the command writes anything.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run(
            [sys.executable, "-m", "cdp.cli", "contract"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ | {"CDP_WAREHOUSE": str(tmp_path / "w.duckdb")},
        )
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr == ""
