"""Activation's tables: their migrations, run before dbt reads them, and what they leave."""

from __future__ import annotations

import duckdb
import pyarrow as pa

import cdp.build
from activation.state import MIGRATIONS, migrate, table_schema
from cdp.dbt_runner import run_dbt
from cdp.steps import python_steps
from tests.conftest import warehouse_at


def columns(conn: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'activation' and table_name = ? order by ordinal_position",
        [table],
    ).fetchall()
    return dict(rows)


def test_the_journey_rename_keeps_what_was_recorded(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as conn:
        # A warehouse that synced before migration 3: the journey in `campaign`, the step as text.
        conn.execute("create schema activation")
        conn.execute("create table activation.schema_migrations (version integer primary key, applied_at timestamp)")
        for version, sql in MIGRATIONS[:2]:
            conn.execute(sql)
            conn.execute("insert into activation.schema_migrations values (?, now())", [version])
        conn.execute(
            "insert into activation.message_events (message_event_id, message_key, provider, destination, campaign, "
            "step, event_type, occurred_at, sync_run_id) "
            "values ('e1', 'k1', 'sendgrid', 'sendgrid', 'welcome', '1', 'sent', timestamp '2026-11-20 09:00:00', 'r1')"
        )
        migrate(conn)
        assert conn.execute("select journey, step from activation.message_events").fetchall() == [("welcome", 1)]
        assert "campaign" not in columns(conn, "message_events")
        versions = [
            v for (v,) in conn.execute("select version from activation.schema_migrations order by 1").fetchall()
        ]
        assert versions == [version for version, _ in MIGRATIONS]
        migrate(conn)  # idempotent
        assert conn.execute("select count(*) from activation.message_events").fetchall() == [(1,)]


def test_the_spark_stand_in_has_the_columns_the_migrations_give(tmp_path):
    schema = table_schema("message_events")
    with duckdb.connect(str(tmp_path / "w.duckdb")) as conn:
        migrate(conn)
        assert schema.names == list(columns(conn, "message_events"))
    assert schema.field("step").type == pa.int32() and schema.field("journey").type == pa.string()
    assert schema.field("occurred_at").type == pa.timestamp("us")


def test_cdp_build_migrates_activation_before_dbt_runs(tmp_path, monkeypatch):
    warehouse = tmp_path / "cdp.duckdb"
    seen = []

    def dbt_reads(arguments, dbt_vars=None, target=None):
        with duckdb.connect(str(warehouse), read_only=True) as conn:
            seen.append(columns(conn, "message_events"))

    # Only the step under test: the others read models this fake dbt does not build.
    steps = tuple(step for step in python_steps() if step.output_source == "cdp_activation")
    monkeypatch.setattr(cdp.build, "python_steps", lambda: steps)
    monkeypatch.setattr(cdp.build, "run_dbt", dbt_reads)
    with warehouse_at(warehouse):
        cdp.build.build()
    assert len(seen) == 1
    assert {name: seen[0][name] for name in ("journey", "step", "occurred_at")} == {
        "journey": "VARCHAR",
        "step": "INTEGER",
        "occurred_at": "TIMESTAMP",
    }


def test_dbt_makes_no_placeholder_for_activation_tables(tmp_path):
    warehouse = tmp_path / "fresh.duckdb"
    with warehouse_at(warehouse):
        run_dbt(["run-operation", "cdp_create_missing_sources"])
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        schemas = {s for (s,) in conn.execute("select distinct table_schema from information_schema.tables").fetchall()}
        assert "raw" in schemas and "activation" not in schemas
