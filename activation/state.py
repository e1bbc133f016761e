"""Warehouse-side activation state in the DuckDB schema `activation`.

These tables are created and migrated here, not by dbt, so no `dbt build --full-refresh`
can wipe what was synced or sent. The dbt project reads them as sources
(`activation.message_events` feeds "already sent" and engagement back into the plan).

Migrations are numbered and append-only: a new column or table is a new entry in
MIGRATIONS, applied once and recorded in activation.schema_migrations.
"""

from __future__ import annotations

import duckdb

SCHEMA = "activation"

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        create table activation.sync_runs (
            sync_run_id varchar primary key,
            sync_name varchar not null,
            destination varchar not null,
            kind varchar not null,            -- state | message
            mode varchar not null,            -- upsert | mirror | add-only
            started_at timestamp not null,    -- naive UTC, like every timestamp in the warehouse
            finished_at timestamp,
            status varchar not null,          -- running | succeeded | failed | refused | dry_run
            adds bigint default 0,
            changes bigint default 0,
            removes bigint default 0,
            sends bigint default 0,
            merges bigint default 0,
            rows_ok bigint default 0,
            rows_rejected bigint default 0,
            rows_failed bigint default 0,
            rows_unknown bigint default 0,
            rows_skipped bigint default 0,
            rows_invalid bigint default 0,    -- source rows without a key: reported, never sent
            http_requests bigint default 0,
            http_throttled bigint default 0,
            error varchar
        );
        create table activation.sync_state (
            sync_name varchar not null,
            record_key varchar not null,
            content_hash varchar not null,    -- md5 of the JSON payload last acknowledged
            payload json not null,            -- the values last acknowledged (diffs and removes read it)
            provider_id varchar,
            first_synced_at timestamp not null,
            last_synced_at timestamp not null,
            last_sync_run_id varchar not null,
            primary key (sync_name, record_key)
        );
        create table activation.sync_log (
            sync_run_id varchar not null,
            sync_name varchar not null,
            record_key varchar not null,
            operation varchar not null,       -- add | change | remove | merge | send
            status varchar not null,          -- ok | rejected | failed | unknown | skipped
            error varchar,
            http_status integer,
            attempts integer,
            provider_id varchar,
            logged_at timestamp not null
        );
        create table activation.rejected_rows (
            sync_name varchar not null,
            record_key varchar not null,
            content_hash varchar not null,    -- retried only once the row's content differs
            operation varchar not null,
            error varchar,
            http_status integer,
            rejected_at timestamp not null,
            sync_run_id varchar not null,
            primary key (sync_name, record_key)
        );
        create table activation.send_ledger (
            message_key varchar primary key,  -- at most one send per key, across runs and crashes
            sync_name varchar not null,
            destination varchar not null,
            person_id varchar,
            channel varchar,
            journey varchar,
            step varchar,
            content_hash varchar,
            status varchar not null,          -- pending | sent | rejected | failed | unknown
            attempts integer not null default 0,
            provider_message_id varchar,
            error varchar,
            http_status integer,
            intent_at timestamp not null,     -- written and committed before the provider call
            outcome_at timestamp,
            sync_run_id varchar not null
        );
        create table activation.message_events (
            message_event_id varchar primary key,
            message_key varchar not null,
            message_id varchar,               -- the provider's id where it returns one
            provider varchar not null,
            destination varchar not null,
            channel varchar,
            person_id varchar,
            recipient varchar,                -- email for email, E.164 for sms/whatsapp, token for push
            campaign varchar,                 -- the journey
            step varchar,
            event_type varchar not null,      -- sent | failed | unknown
            occurred_at timestamp not null,
            sync_run_id varchar not null
        );
        create table activation.merge_state (
            sync_name varchar not null,
            loser_person_id varchar not null,
            winner_person_id varchar not null,
            merged_at timestamp,
            status varchar not null,          -- moved | not_moved
            error varchar,
            processed_at timestamp not null,
            primary key (sync_name, loser_person_id, winner_person_id)
        );
        """,
    ),
    (
        2,
        """
        -- Asynchronous imports (Klaviyo bulk import jobs, SendGrid contact upserts): the
        -- provider acknowledges the request and processes the rows later. Each job is
        -- checked until it finishes; rows it failed are moved to rejected_rows.
        create table activation.provider_jobs (
            sync_name varchar not null,
            job_id varchar not null,
            destination varchar not null,
            sync_run_id varchar not null,     -- the run that submitted the job
            record_keys json not null,        -- the keys the job carries, in request order
            submitted_at timestamp not null,
            status varchar not null,          -- pending | completed | errored | failed | unknown (no longer known to the provider)
            rows_failed bigint,               -- as the provider reports them
            rows_rejected bigint,             -- matched to keys and moved to rejected_rows
            checks integer not null default 0,
            last_checked_at timestamp,
            finished_at timestamp,
            error varchar,
            primary key (sync_name, job_id)
        );
        alter table activation.sync_runs add column jobs_submitted bigint default 0;
        alter table activation.sync_runs add column jobs_pending bigint default 0;
        alter table activation.sync_runs add column job_rows_rejected bigint default 0;
        """,
    ),
]


def migrate(conn: duckdb.DuckDBPyConnection) -> None:
    """Bring the activation schema to the latest version (idempotent)."""
    conn.execute(f"create schema if not exists {SCHEMA}")
    conn.execute(f"create table if not exists {SCHEMA}.schema_migrations (version integer primary key, applied_at timestamp not null)")
    applied = {row[0] for row in conn.execute(f"select version from {SCHEMA}.schema_migrations").fetchall()}
    if not applied:
        _drop_dbt_placeholders(conn)
    for version, sql in MIGRATIONS:
        if version in applied:
            continue
        conn.execute("begin")
        try:
            conn.execute(sql)
            conn.execute(
                f"insert into {SCHEMA}.schema_migrations values (?, cast(current_timestamp at time zone 'UTC' as timestamp))", [version]
            )
            conn.execute("commit")
        except Exception:
            conn.execute("rollback")
            raise


def _drop_dbt_placeholders(conn: duckdb.DuckDBPyConnection) -> None:
    """Drop the empty stand-ins dbt made for tables activation has not created yet.

    The dbt project reads activation.message_events as a source; until the first sync,
    its on-run-start (cdp_create_missing_sources) creates it empty with text columns and
    lineage columns, so that a plain `dbt build` works. The first migration replaces it.
    A table with rows is never dropped: the migration then fails on it, loudly.
    """
    placeholders = conn.execute(
        "select table_name from information_schema.columns where table_schema = ? and column_name = '_cdp_source_file'", [SCHEMA]
    ).fetchall()
    for (table,) in placeholders:
        if conn.execute(f'select count(*) from {SCHEMA}."{table}"').fetchall()[0][0] == 0:
            conn.execute(f'drop table {SCHEMA}."{table}"')


def has_schema(conn: duckdb.DuckDBPyConnection) -> bool:
    return bool(conn.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = 'schema_migrations'", [SCHEMA]).fetchall()[0][0])


def relation_exists(conn: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, name = relation.split(".", 1)
    return bool(conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
    ).fetchall()[0][0])


def relation_columns(conn: duckdb.DuckDBPyConnection, relation: str) -> list[str]:
    schema, name = relation.split(".", 1)
    return [r[0] for r in conn.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? order by ordinal_position", [schema, name]
    ).fetchall()]
