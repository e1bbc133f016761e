"""Load a folder of raw files into the warehouse's raw schema, checking the contract.

Every contract table is (re)created on each load, as text columns in contract order plus
two lineage columns (`_cdp_source_file`, `_cdp_source_row`) that quarantine rows point
back to. A table without a file is created empty. Typing and validation of values is
staging's job (in SQL, so that it runs the same on every warehouse); the loader only
enforces the shape of each file.
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet

from cdp.contract import ContractTable
from cdp.warehouse import Warehouse

LINEAGE_COLUMNS = ("_cdp_source_file", "_cdp_source_row")
LOAD_ISSUES_TABLE = "cdp_load_issues"
FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet")


class RawContractError(ValueError):
    """A raw file does not have the shape the contract asks for."""


@dataclass
class TableLoad:
    table: str
    file: str | None
    rows: int
    ignored_columns: list[str] = field(default_factory=list)


@dataclass
class LoadReport:
    tables: list[TableLoad]
    # Lines that could not be split into the header's columns; they go to quarantine.
    malformed_lines: int

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)


@dataclass
class _MalformedLine:
    table: str
    file: str
    # Unknown when the file has quoted line breaks (pyarrow cannot count lines then).
    line: int | None
    reason: str
    # Kept in the warehouse (like every quarantined raw row), never printed: it can
    # hold personal data.
    text: str


def _find_file(raw_dir: Path, table: str) -> Path | None:
    found = [raw_dir / f"{table}{suffix}" for suffix in FILE_SUFFIXES if (raw_dir / f"{table}{suffix}").is_file()]
    if len(found) > 1:
        raise RawContractError(
            f"{raw_dir}: table {table} is given twice ({', '.join(p.name for p in found)}); keep one file"
        )
    return found[0] if found else None


def _csv_header(path: Path) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle), [])
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RawContractError(f"{path}: cannot read the header row: {error}") from error


def _read_csv(path: Path, table: str, malformed: list[_MalformedLine]) -> pa.Table:
    def on_invalid_row(row) -> str:
        malformed.append(
            _MalformedLine(
                table=table,
                file=path.name,
                line=row.number,
                reason="malformed_line",
                text=row.text,
            )
        )
        return "skip"

    header = _csv_header(path)
    try:
        return pa_csv.read_csv(
            path,
            parse_options=pa_csv.ParseOptions(invalid_row_handler=on_invalid_row, newlines_in_values=True),
            # Everything as text: staging parses values and quarantines what does not parse.
            convert_options=pa_csv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        raise RawContractError(f"{path}: cannot be read as CSV with a header row: {error}") from error


def _read_parquet(path: Path) -> pa.Table:
    try:
        table = pa_parquet.read_table(path)
    except (pa.ArrowInvalid, OSError) as error:
        raise RawContractError(f"{path}: cannot be read as Parquet: {error}") from error
    return table.cast(pa.schema([pa.field(name, pa.string()) for name in table.column_names]))


def _conform(path: Path, data: pa.Table, contract: ContractTable) -> tuple[pa.Table, list[str]]:
    present = {name.strip().lower(): name for name in data.column_names}
    missing = [column for column in contract.column_names if column not in present]
    if missing:
        raise RawContractError(
            f"{path}: missing expected column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(c) for c in missing)} (table {contract.name} expects "
            f"{', '.join(contract.column_names)}; leave a column empty rather than leaving it out)"
        )
    ignored = sorted(set(present) - set(contract.column_names))
    columns = [data.column(present[column]) for column in contract.column_names]
    lineage = [
        pa.array([path.name] * data.num_rows, pa.string()),
        pa.array(range(1, data.num_rows + 1), pa.int64()),
    ]
    return pa.table(columns + lineage, names=[*contract.column_names, *LINEAGE_COLUMNS]), ignored


def _empty(contract: ContractTable) -> pa.Table:
    schema = pa.schema(
        [pa.field(c, pa.string()) for c in contract.column_names]
        + [pa.field(LINEAGE_COLUMNS[0], pa.string()), pa.field(LINEAGE_COLUMNS[1], pa.int64())]
    )
    return schema.empty_table()


def load_raw_dir(
    warehouse: Warehouse,
    raw_dir: Path,
    contract: dict[str, ContractTable],
    schema: str = "raw",
) -> LoadReport:
    """Replace the raw schema's tables with the files in ``raw_dir``.

    All files are read and checked before anything is written, so a contract error
    leaves the previous raw data in place.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise RawContractError(f"{raw_dir}: raw directory does not exist")
    malformed: list[_MalformedLine] = []
    staged: list[tuple[TableLoad, pa.Table]] = []
    for contract_table in contract.values():
        path = _find_file(raw_dir, contract_table.name)
        if path is None:
            staged.append((TableLoad(contract_table.name, None, 0), _empty(contract_table)))
            continue
        data = _read_parquet(path) if path.suffix == ".parquet" else _read_csv(path, contract_table.name, malformed)
        data, ignored = _conform(path, data, contract_table)
        staged.append((TableLoad(contract_table.name, path.name, data.num_rows, ignored), data))

    issues = pa.table(
        {
            "issue_number": pa.array(range(1, len(malformed) + 1), pa.int64()),
            "source_table": pa.array([m.table for m in malformed], pa.string()),
            "source_file": pa.array([m.file for m in malformed], pa.string()),
            "source_line": pa.array([m.line for m in malformed], pa.int64()),
            "reason": pa.array([m.reason for m in malformed], pa.string()),
            "raw_text": pa.array([m.text for m in malformed], pa.string()),
        }
    )
    warehouse.replace_tables(schema, {**{load.table: data for load, data in staged}, LOAD_ISSUES_TABLE: issues})
    return LoadReport(tables=[load for load, _ in staged], malformed_lines=len(malformed))
