"""The few warehouse operations the Python side of the build needs, per target.

dbt does the modelling on either target; Python only lands raw tables and reads
results back. DuckDB is the default (one embedded file); Spark is the local session the
`spark` dbt target uses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import duckdb
import pyarrow as pa


class Warehouse(Protocol):
    def replace_tables(self, schema: str, tables: dict[str, pa.Table]) -> None:
        """Create or replace every table in ``schema``; all or nothing where the warehouse allows it."""

    def tables(self, schema: str) -> list[str]: ...

    def query(self, sql: str) -> list[tuple]: ...

    def close(self) -> None: ...


class DuckDBWarehouse:
    def __init__(self, path: Path, read_only: bool = False):
        self.conn = duckdb.connect(str(path), read_only=read_only)

    def replace_tables(self, schema: str, tables: dict[str, pa.Table]) -> None:
        self.conn.execute(f'create schema if not exists "{schema}"')
        self.conn.execute("begin transaction")
        try:
            for name, data in tables.items():
                self.conn.register("_cdp_incoming", data)
                try:
                    self.conn.execute(f'create or replace table "{schema}"."{name}" as select * from _cdp_incoming')
                finally:
                    self.conn.unregister("_cdp_incoming")
            self.conn.execute("commit")
        except Exception:
            self.conn.execute("rollback")
            raise

    def tables(self, schema: str) -> list[str]:
        rows = self.conn.execute(
            "select table_name from information_schema.tables where table_schema = ? order by table_name", [schema]
        ).fetchall()
        return [name for (name,) in rows]

    def query(self, sql: str) -> list[tuple]:
        return self.conn.execute(sql).fetchall()

    def close(self) -> None:
        self.conn.close()


class SparkWarehouse:
    def __init__(self):
        from cdp.spark_session import spark_session

        self.session = spark_session()

    def replace_tables(self, schema: str, tables: dict[str, pa.Table]) -> None:
        # Spark has no multi-table transaction: each table is replaced on its own, after
        # every file has been read and checked.
        self.session.sql(f"create database if not exists `{schema}`")
        for name, data in tables.items():
            self.session.createDataFrame(data).write.mode("overwrite").saveAsTable(f"`{schema}`.`{name}`")

    def tables(self, schema: str) -> list[str]:
        if not self.session.catalog.databaseExists(schema):
            return []
        # Temporary views are listed under every database; they belong to none.
        return sorted(table.name for table in self.session.catalog.listTables(schema) if not table.isTemporary)

    def query(self, sql: str) -> list[tuple]:
        return [tuple(row) for row in self.session.sql(sql).collect()]

    def close(self) -> None:
        # The session stays up: dbt (session method) and the next steps of this process
        # pick it up again, and the embedded metastore admits one JVM at a time.
        pass


def open_warehouse(target: str | None, path: Path | None = None, read_only: bool = False) -> Warehouse:
    if target == "spark":
        return SparkWarehouse()
    from cdp.paths import warehouse_path

    return DuckDBWarehouse(path or warehouse_path(), read_only=read_only)
