"""Generated hostile raw files through the real `cdp build`: no crash, and every raw row is
staged or quarantined with a reason (raw = staged + quarantined + deduplicated, per table).

Each example is a whole build (minutes on a busy machine), so there are few of them, from
a derandomized database: CI runs the same examples every time."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from cdp.contract import raw_contract
from cdp.dbt_runner import manifest_path
from tests.conftest import build_warehouse, query

TABLES = ("crm_customers", "orders", "stores", "web_events", "consents")
ODD_TIMESTAMPS = ["-infinity", "infinity", "epoch", "9999-12-31T23:59:59Z", "1850-01-01", "2026-11-19T10:00:00+14:00"]
HOSTILE = [
    "{{ var('cdp__as_of') }}",
    "{% do run_query('drop schema staging') %}",
    "'; drop table raw.orders; --",
    '"quoted"',
    "=cmd|' /C calc'!A0",
    "+44 20 7946 0123",
    "@SUM(A1)",
    "nan",
    "1e400",
    "a\x00b",
    "line\nbreak",
    "é漢字🙂",
    "G" * 5_000,
    "GB",
    "web",
    "granted",
]
value = st.one_of(st.sampled_from(HOSTILE + ODD_TIMESTAMPS), st.text(max_size=12), st.just(""))
AS_OF = datetime(2026, 11, 20, 9, 0, 0)


@st.composite
def raw_file(draw, table: str) -> tuple[str, int, int]:
    """A file's text, how many records it holds and how many bad lines."""
    columns = list(raw_contract()[table].column_names)
    extra = draw(st.lists(st.sampled_from(["notes", "Segment ", "_cdp_source_row"]), max_size=2, unique=True))
    records = draw(st.lists(st.lists(value, min_size=len(columns), max_size=len(columns)), min_size=1, max_size=6))
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns + extra)
    writer.writerows(record + ["x"] * len(extra) for record in records)
    text = out.getvalue()
    bad_lines = draw(st.lists(st.sampled_from(["broken,line\r\n", 'unterminated,"quote\r\n']), max_size=1))
    return text + "".join(bad_lines), len(records), len(bad_lines)


def base_models_by_raw_table() -> dict[str, str]:
    manifest = json.loads(manifest_path().read_text())
    return {
        manifest["sources"][source_id]["name"]: node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["name"].startswith("base_")
        for source_id in node["depends_on"]["nodes"]
        if source_id.startswith("source.")
    }


@pytest.mark.slow
@settings(
    max_examples=2,
    derandomize=True,
    deadline=None,
    # No shrinking: each try is a whole build; the failing example is printed as drawn.
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(files=st.fixed_dictionaries({table: raw_file(table) for table in TABLES}))
def test_hostile_files_build_and_every_row_is_staged_or_quarantined(tmp_path_factory, files):
    root = tmp_path_factory.mktemp("fuzz-build")
    raw_dir = root / "raw"
    raw_dir.mkdir()
    for table, (text, _, _) in files.items():
        (raw_dir / f"{table}.csv").write_text(text, newline="")
    warehouse = build_warehouse(root / "cdp.duckdb", raw_dir, AS_OF)

    for table, base in base_models_by_raw_table().items():
        loaded = query(warehouse, f"select count(*) from raw.{table}")[0][0]
        staged = query(warehouse, f"select count(*) from staging.{base.replace('base_', 'stg_', 1)}")[0][0]
        rejected, unexplained = query(
            warehouse,
            "select count(*) filter (where action <> 'value_nulled'), count(*) filter (where reason is null)"
            " from marts.fct_quarantined_rows where source_table = ? and reason is distinct from 'malformed_line'",
            [table],
        )[0]
        assert loaded == staged + rejected, table
        assert unexplained == 0, table
    for table, (_, records, bad_lines) in files.items():
        assert query(warehouse, f"select count(*) from raw.{table}") == [(records,)], table
        issues = query(warehouse, "select count(*) from raw.cdp_load_issues where source_table = ?", [table])
        assert issues == [(bad_lines,)], table
