"""The raw source contract, read from the dbt source definitions.

The dbt sources under ``models/staging/<source>/_<source>__sources.yml`` are the one
place where the contract lives: table names, columns, types, keys and enum values. The
loader, the data generator and the generated documentation all read it from there, so
that the contract cannot drift between what dbt expects and what Python loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from cdp.paths import project_dir

# The raw schema's table of lines the loader could not read (malformed, erased subject):
# written by the loader, cleaned by erasure, staged as quarantine rows.
LOAD_ISSUES_TABLE = "cdp_load_issues"


@dataclass(frozen=True)
class ContractColumn:
    name: str
    data_type: str
    description: str
    accepted_values: tuple[str, ...]
    is_pii: bool


@dataclass(frozen=True)
class ContractTable:
    name: str
    source: str
    description: str
    key: tuple[str, ...]
    columns: tuple[ContractColumn, ...]

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


def _meta(node: dict) -> dict:
    # dbt accepts meta both at the top level and under config; read either.
    return {**node.get("meta", {}), **node.get("config", {}).get("meta", {})}


def _tags(node: dict) -> list[str]:
    return [*node.get("tags", []), *node.get("config", {}).get("tags", [])]


@cache
def raw_contract(root: Path | None = None) -> dict[str, ContractTable]:
    """Every raw table of the contract, by table name, in a stable order."""
    root = root or project_dir()
    tables: dict[str, ContractTable] = {}
    for path in sorted((root / "models" / "staging").glob("*/_*__sources.yml")):
        document = yaml.safe_load(path.read_text())
        for source in document.get("sources", []):
            for table in source.get("tables", []):
                columns = tuple(
                    ContractColumn(
                        name=column["name"],
                        data_type=column.get("data_type", "string"),
                        description=column.get("description", ""),
                        accepted_values=tuple(_meta(column).get("accepted_values", ())),
                        is_pii="pii" in _tags(column),
                    )
                    for column in table.get("columns", [])
                )
                key = tuple(_meta(table).get("cdp_key", ()))
                if not key or not set(key) <= {column.name for column in columns}:
                    raise ValueError(f"{path}: table {table['name']} needs meta.cdp_key naming its columns")
                tables[table["name"]] = ContractTable(
                    name=table["name"],
                    source=source["name"],
                    description=table.get("description", ""),
                    key=key,
                    columns=columns,
                )
    if not tables:
        raise FileNotFoundError(f"no source definitions found under {root / 'models' / 'staging'}")
    return tables


def contract_markdown(tables: dict[str, ContractTable]) -> str:
    """The contract as Markdown, for docs/raw-source-contract.md."""
    lines = [
        "# Raw source contract",
        "",
        "Generated from the dbt source definitions by `cdp contract`; do not edit by hand.",
        "",
        "Land each table as `<table>.csv` (header row, UTF-8, comma-separated), `<table>.csv.gz`",
        "or `<table>.parquet` in one folder, then run `cdp build --raw-dir FOLDER`. Every table is",
        "optional: a missing file is an empty table. Columns not listed here are ignored; a",
        "listed column missing from a file is an error naming the file and the column (leave a",
        "column empty instead), and so are two header names that differ only in case or",
        "surrounding spaces. Timestamps are ISO-8601, in UTC unless they carry an offset.",
        "Amounts are decimals in the row's `currency`.",
        "",
        "A file that cannot be read (empty, not CSV, not UTF-8, a truncated `.csv.gz`, a",
        "list, struct or map column in Parquet) stops `cdp build` before anything is written,",
        "with one line naming the file and the line or column. A CSV line that does not split",
        "into the header's columns (a stray quote, a missing comma) is quarantined as",
        "`malformed_line` with its line number; the lines after it load.",
        "",
        "Rows that break the contract (no key, a duplicate key, an unparseable required value,",
        "an unknown enum value, a timestamp after the build's as-of time) are not loaded into",
        "staging: they land in `fct_quarantined_rows` with the reason. An unparseable optional",
        "value (a malformed e-mail, phone or birth date) is nulled and recorded there too.",
        "Values no source means count as unparseable: `epoch`, `infinity`, dates before 1900,",
        "a birth date after as-of, an optional event time (`updated_at`, `closed_at`) more",
        "than a day after as-of, `inf`, `nan` or `1e400` as a number, a latitude outside",
        "[-90, 90] or a longitude outside [-180, 180]. A country is an ISO 3166-1 alpha-2 code",
        "(any case); anything else is nulled and recorded.",
        "",
    ]
    for table in tables.values():
        lines += [
            f"## `{table.name}` (source `{table.source}`)",
            "",
            f"{table.description} Key: {', '.join(f'`{k}`' for k in table.key)}.",
            "",
            "| column | type | notes |",
            "|---|---|---|",
        ]
        for column in table.columns:
            notes = [column.description.rstrip(".")] if column.description else []
            if column.accepted_values:
                notes.append("one of " + ", ".join(f"`{v}`" for v in column.accepted_values))
            if column.is_pii:
                notes.append("personal data")
            lines.append(f"| `{column.name}` | {column.data_type} | {'; '.join(notes)} |")
        lines.append("")
    return "\n".join(lines)
