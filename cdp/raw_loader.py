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
import itertools
import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet

from activation.progress import NO_PROGRESS, Progress, track
from cdp.contract import LOAD_ISSUES_TABLE, ContractTable
from cdp.erasure import drop_erased_rows, erased_set_of
from cdp.warehouse import Warehouse

LINEAGE_COLUMNS = ("_cdp_source_file", "_cdp_source_row")
FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet")

log = logging.getLogger(__name__)


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
    # Rows of erased persons dropped at load (cdp.erasure); recorded in quarantine without their values.
    erased_rows: int = 0

    @property
    def rows(self) -> int:
        return sum(table.rows for table in self.tables)


@dataclass
class _MalformedLine:
    table: str
    file: str
    # The physical line the bad record starts on (1 is the header); None in the rare
    # case that only pyarrow finds the record bad.
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


def _file_bytes(path: Path) -> bytes:
    """The file's contents, decompressed; a damaged gzip file is an error naming it."""
    try:
        if path.name.endswith(".gz"):
            return gzip.decompress(path.read_bytes())
        return path.read_bytes()
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise RawContractError(f"{path}: the gzip file is truncated or corrupt ({error}); land it again") from error
    except OSError as error:
        raise RawContractError(f"{path}: cannot be read ({error.strerror or error})") from error


def _check_utf8(path: Path, data: bytes) -> None:
    """Raise naming the physical line and column of the first byte that is not UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line_start = data.rfind(b"\n", 0, error.start) + 1
        line = data.count(b"\n", 0, error.start) + 1
        raise RawContractError(
            f"{path}: line {line}: not UTF-8 (byte 0x{data[error.start]:02x} at byte {error.start - line_start + 1} "
            "of the line); save the file as UTF-8"
        ) from None


def _not_csv_hint(data: bytes) -> str | None:
    if data.startswith(b"PAR1"):
        return "is a Parquet file; name it .parquet"
    if data.startswith(b"\x1f\x8b"):
        return "is gzip-compressed; name it .csv.gz"
    return None


def _check_distinct_columns(path: Path, names: list[str]) -> None:
    # Columns are matched to the contract ignoring case and surrounding spaces, so two
    # names that differ only in those would silently load one of them.
    seen: dict[str, str] = {}
    for position, name in enumerate(names, start=1):
        normalised = name.strip().lower()
        if normalised in seen:
            raise RawContractError(
                f"{path}: columns {seen[normalised]} and {position} ({name!r}) are the same column "
                "once case and surrounding spaces are ignored; keep one"
            )
        seen[normalised] = f"{position} ({name!r})"


def _csv_header(path: Path, data: bytes) -> list[str]:
    hint = _not_csv_hint(data)
    if hint:
        raise RawContractError(f"{path}: {hint}")
    first_line = data.split(b"\n", 1)[0]
    _check_utf8(path, first_line)
    header = next(csv.reader([first_line.decode("utf-8-sig").rstrip("\r")]), [])
    if not any(name.strip() for name in header):
        raise RawContractError(f"{path}: the file is empty; the first line must be a header row naming the columns")
    _check_distinct_columns(path, header)
    return header


def _bad_record_lines(lines: list[str], width: int) -> list[int]:
    """The index in ``lines`` of the first line of every record that does not split into ``width`` values.

    A line without a quote is a whole record unless a quoted value is open (it never is
    here: the scan steps over quoted records whole), so its values are its commas plus
    one; only lines with a quote go through Python's csv module, which says how many
    lines the record spans. After a bad record the scan resumes at the next line: a
    stray quote costs its own line, not every line up to the next quote.
    """
    bad: list[int] = []
    index = 1  # line 0 is the header
    previous_limit = csv.field_size_limit(2**31 - 1)  # pyarrow has no limit on a value's size either
    try:
        while index < len(lines):
            line = lines[index]
            if '"' not in line:
                if line.strip("\r\n") and line.count(",") + 1 != width:
                    bad.append(index)
                index += 1
                continue
            reader = csv.reader(itertools.islice(lines, index, None))
            try:
                record = next(reader)
            except csv.Error:
                record = None
            if record is None or len(record) != width:
                bad.append(index)
                index += 1
            else:
                index += reader.line_num
    finally:
        csv.field_size_limit(previous_limit)
    return bad


def _pyarrow_csv(data: bytes, header: list[str], on_invalid_row) -> pa.Table:
    return pa_csv.read_csv(
        pa.BufferReader(data),
        parse_options=pa_csv.ParseOptions(invalid_row_handler=on_invalid_row, newlines_in_values=True),
        # Everything as text: staging parses values and quarantines what does not parse.
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _read_csv(path: Path, table: str, malformed: list[_MalformedLine]) -> pa.Table:
    data = _file_bytes(path)
    header = _csv_header(path, data)
    # Checked first (a fraction of pyarrow's time): pyarrow names neither file nor line.
    _check_utf8(path, data)
    invalid_rows = []
    try:
        parsed = _pyarrow_csv(data, header, lambda row: invalid_rows.append(row) or "skip")
    except pa.ArrowInvalid:
        parsed = None
    if parsed is not None and not invalid_rows:
        return parsed
    # pyarrow cannot say on which line a bad record starts, and with quoted line breaks
    # allowed a stray quote swallows every line up to the next quote: find the bad lines,
    # quarantine them, and read the rest again.
    # Lines end at "\n" only (as `wc -l` and editors count them), so that the numbers given
    # are the ones a person finds; a lone "\r" is part of its line.
    text = data.decode("utf-8")
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    bad = _bad_record_lines(lines, len(header))
    for index in bad:
        malformed.append(_MalformedLine(table, path.name, index + 1, "malformed_line", lines[index].rstrip("\r\n")))
    dropped = set(bad)
    kept = "".join(line for index, line in enumerate(lines) if index not in dropped)

    def on_invalid_row(row) -> str:
        # Python's csv module and pyarrow read a record differently: rare, and still
        # quarantined, though without a line number.
        malformed.append(_MalformedLine(table, path.name, None, "malformed_line", row.text))
        return "skip"

    try:
        return _pyarrow_csv(kept.encode("utf-8"), header, on_invalid_row)
    except pa.ArrowInvalid as error:
        raise RawContractError(f"{path}: cannot be read as CSV: {error}") from error


def _read_parquet(path: Path) -> pa.Table:
    try:
        table = pa_parquet.read_table(path)
    except (pa.ArrowException, OSError) as error:
        raise RawContractError(f"{path}: cannot be read as Parquet: {error}") from error
    _check_distinct_columns(path, table.column_names)
    columns = []
    for column in table.schema:
        if pa.types.is_nested(column.type):
            raise RawContractError(
                f"{path}: column {column.name!r} is a nested type ({column.type}); "
                "the contract takes flat values (text, numbers, dates)"
            )
        try:
            columns.append(table.column(column.name).cast(pa.string()))
        except pa.ArrowException as error:
            raise RawContractError(f"{path}: column {column.name!r} cannot be read as text: {error}") from error
    return pa.table(columns, names=table.column_names)


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
    progress: Progress = NO_PROGRESS,
) -> LoadReport:
    """Replace the raw schema's tables with the files in ``raw_dir``.

    All files are read and checked before anything is written, so a contract error
    leaves the previous raw data in place. Each file's rows are logged as it is read.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise RawContractError(f"{raw_dir}: raw directory does not exist")
    malformed: list[_MalformedLine] = []
    staged: list[tuple[TableLoad, pa.Table]] = []
    with track("raw files", len(contract), log, progress, unit="tables", verb="read") as tables_read:
        for contract_table in tables_read.each(contract.values()):
            path = _find_file(raw_dir, contract_table.name)
            if path is None:
                log.info("%s.%s: no file, created empty", schema, contract_table.name)
                staged.append((TableLoad(contract_table.name, None, 0), _empty(contract_table)))
                continue
            data = _read_parquet(path) if path.suffix == ".parquet" else _read_csv(path, contract_table.name, malformed)
            data, ignored = _conform(path, data, contract_table)
            log.info("%s.%s: %s rows read from %s", schema, contract_table.name, f"{data.num_rows:,}", path.name)
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
    # The rows of erased persons never reach the warehouse again.
    tables, erased_rows = drop_erased_rows(
        {**{load.table: data for load, data in staged}, LOAD_ISSUES_TABLE: issues}, erased_set_of(warehouse)
    )
    warehouse.replace_tables(schema, tables)
    return LoadReport(tables=[load for load, _ in staged], malformed_lines=len(malformed), erased_rows=erased_rows)
