"""The loader alone under generated hostile files: values arrive exactly, bad lines are
quarantined with their line numbers, and nothing but a RawContractError ever comes out."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from cdp.contract import raw_contract
from cdp.raw_loader import LOAD_ISSUES_TABLE, RawContractError, load_raw_dir
from cdp.warehouse import DuckDBWarehouse

COLUMNS = raw_contract()["products"].column_names
HOSTILE = [
    "{{ var('x') }}",
    "{% raw %}",
    "'; drop table raw.products; --",
    '"',
    '""',
    "=cmd|' /C calc'!A0",
    "+1",
    "-infinity",
    "@SUM(A1)",
    "\x00",
    "a\nb",
    "a\r\nb",
    "\r",
    " padded ",
    "é漢字🙂\u202e",
    ",",
    "x" * 200_000,  # past the csv module's default field limit
]
values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(HOSTILE),
    st.text(alphabet="ab,\"'\n", max_size=8),
)
rows = st.lists(st.lists(values, min_size=len(COLUMNS), max_size=len(COLUMNS)), max_size=12)
# Lines of the wrong width, with no quote: each is a bad record of exactly one line.
bad_lines = st.lists(st.text(alphabet="xyz,", max_size=12).filter(lambda line: line.count(",") != len(COLUMNS) - 1))

fuzz = settings(
    max_examples=100,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def csv_text(records: list[list[str]]) -> str:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator="\r\n").writerows(records)
    return out.getvalue()


def load(directory: Path, content: bytes) -> DuckDBWarehouse:
    (directory / "products.csv").write_bytes(content)
    warehouse = DuckDBWarehouse(Path(":memory:"))
    load_raw_dir(warehouse, directory, raw_contract())
    return warehouse


@pytest.fixture
def raw_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@fuzz
@given(records=rows, extra=st.booleans(), upper=st.booleans())
def test_well_formed_files_load_every_value_exactly(raw_dir, records, extra, upper):
    header = [name.upper() if upper else name for name in COLUMNS] + (["unknown_column"] if extra else [])
    body = [record + (["extra value"] if extra else []) for record in records]
    warehouse = load(raw_dir, csv_text([header, *body]).encode())
    try:
        loaded = warehouse.query(f"select {', '.join(COLUMNS)} from raw.products order by _cdp_source_row")
        assert [list(row) for row in loaded] == records
        assert warehouse.query(f"select count(*) from raw.{LOAD_ISSUES_TABLE}") == [(0,)]
    finally:
        warehouse.close()


@fuzz
@given(records=rows, bad=bad_lines, data=st.data())
def test_bad_lines_are_quarantined_with_their_line_numbers_and_the_rest_loads(raw_dir, records, bad, data):
    lines = [csv_text([record]) for record in records if record != [""] * len(COLUMNS)]
    good_records = [record for record in records if record != [""] * len(COLUMNS)]
    for line in bad:
        lines.insert(data.draw(st.integers(min_value=0, max_value=len(lines))), line + "\n")
    content = csv_text([list(COLUMNS)]) + "".join(lines)
    warehouse = load(raw_dir, content.encode())
    try:
        loaded = warehouse.query(f"select {', '.join(COLUMNS)} from raw.products order by _cdp_source_row")
        assert [list(row) for row in loaded] == good_records
        physical_line = {}
        number = 2
        for line in lines:
            physical_line.setdefault(line, []).append(number)
            number += line.count("\n")
        expected = sorted(
            (n, line.rstrip("\n"))
            for line in set(bad_line + "\n" for bad_line in bad if bad_line)
            for n in physical_line[line]
        )
        issues = warehouse.query(f"select source_line, raw_text from raw.{LOAD_ISSUES_TABLE} order by source_line")
        assert issues == expected
    finally:
        warehouse.close()


@fuzz
@given(content=st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)), header=st.booleans())
def test_any_bytes_load_or_raise_a_contract_error_naming_the_file(raw_dir, content, header):
    if header:
        content = csv_text([list(COLUMNS)]).encode() + content
    try:
        load(raw_dir, content).close()
    except RawContractError as error:
        assert str(error).startswith(f"{raw_dir / 'products.csv'}: ")
