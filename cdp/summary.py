"""The short report `cdp build` and `make demo` print: what was built and what was not."""

from __future__ import annotations

from pathlib import Path

import duckdb

LAYERS = ("raw", "staging", "intermediate", "marts")


def _tables(conn: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    rows = conn.execute(
        "select table_name from information_schema.tables where table_schema = ? order by table_name", [schema]
    ).fetchall()
    # base_ models hold every raw row with its verdict; counting them again would
    # double the staging layer.
    return [name for (name,) in rows if not name.startswith("base_")]


def _count(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> int:
    return conn.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]


def summary_lines(warehouse: Path) -> list[str]:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        lines = ["Rows per layer:"]
        for layer in LAYERS:
            tables = _tables(conn, layer)
            total = sum(_count(conn, layer, table) for table in tables)
            lines.append(f"  {layer:<13}{total:>10,} rows in {len(tables)} tables")
        lines.append("Quarantined rows by reason:")
        rows = conn.execute(
            """
            select source_table, reason, action, count(*)
            from marts.fct_quarantined_rows
            group by all
            order by source_table, reason, action
            """
        ).fetchall()
        lines += [f"  {table:<20}{reason:<30}{action:<18}{count:>6,}" for table, reason, action, count in rows] or ["  none"]
    return lines
