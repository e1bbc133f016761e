"""Activation's warehouse state: the tables of schema `activation`, their migrations, and
every statement that reads or writes them.

The tables are created and migrated here, not by dbt, so no `dbt build --full-refresh`
can wipe what was synced or sent; `cdp build` runs the migrations before dbt, since the
dbt project reads activation.message_events as a source (`cdp_activation`: "already
sent" and engagement feed back into the plan). Migrations are numbered and append-only:
a new column or table is a new entry in MIGRATIONS, applied once and recorded in
activation.schema_migrations.

StateStore holds the operations the two protocols of activation/engine.py need, each
named after what it does (start a run, record a batch, record send intents, ...). Work
tables of one run (`act_*`) are temporary tables of the store's connection. DuckDB has
one writer: a sync holds the write connection for its whole run; a dry run reads through
a read-only one, and on a warehouse that never synced it reads empty state.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from activation.config_schema import ConsentConfig, JoinConfig, SyncConfig
from activation.errors import ConfigError
from activation.report import SyncReport

SCHEMA = "activation"
SAMPLE_SIZE = 5

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
        """,  # noqa: E501 (a migration's text stays as it was applied)
    ),
    (
        3,
        """
        -- Activation's sends belong to journeys; `campaign` is what providers' reports name.
        alter table activation.message_events rename column campaign to journey;
        -- The plan's step is an integer (fct_message_plan): stored as one, read by dbt as it is.
        alter table activation.message_events alter column step type integer;
        """,
    ),
    (
        4,
        """
        -- The consent each send went under, re-read just before it (`cdp explain` shows it);
        -- a message whose person revoked consent since the plan is `cancelled`, never sent.
        alter table activation.send_ledger add column consent_event_id varchar;
        alter table activation.send_ledger add column consent_subject_type varchar;
        alter table activation.send_ledger add column consent_channel varchar;
        alter table activation.send_ledger add column consent_purpose varchar;
        alter table activation.send_ledger add column consent_recorded_at timestamp;
        alter table activation.send_ledger add column consent_source varchar;
        alter table activation.sync_runs add column rows_cancelled bigint default 0;
        """,
    ),
    (
        5,
        """
        -- Erasure at the providers: a person erased in the warehouse (dim_persons.is_erased) is
        -- deleted through each destination's own delete or privacy operation. What the request
        -- needs (the address it was synced with) is kept here, not in the warehouse, until the
        -- provider confirmed; then it is dropped. Retried on every run until done.
        create table activation.provider_deletions (
            sync_name varchar not null,
            record_key varchar not null,      -- the person's key in the sync
            destination varchar not null,
            address json,                     -- the destination's deletion_fields as last synced; null once done
            status varchar not null,          -- pending | done | unsupported (the destination has no such operation)
            attempts integer not null default 0,
            error varchar,                    -- the last failure (masked), or why there was nothing to delete by
            requested_at timestamp not null,
            last_attempt_at timestamp,
            done_at timestamp,
            primary key (sync_name, record_key)
        );
        alter table activation.sync_runs add column deletions_done bigint default 0;
        alter table activation.sync_runs add column deletions_pending bigint default 0;
        """,
    ),
]


class StateError(RuntimeError):
    """The activation schema cannot be brought up to date; the message says which migration and why."""


def migrate(conn: duckdb.DuckDBPyConnection) -> None:
    """Bring the activation schema to the latest version (idempotent)."""
    conn.execute(f"create schema if not exists {SCHEMA}")
    conn.execute(
        f"create table if not exists {SCHEMA}.schema_migrations "
        "(version integer primary key, applied_at timestamp not null)"
    )
    applied = {row[0] for row in conn.execute(f"select version from {SCHEMA}.schema_migrations").fetchall()}
    for version, sql in MIGRATIONS:
        if version in applied:
            continue
        conn.execute("begin")
        try:
            conn.execute(sql)
            conn.execute(
                f"insert into {SCHEMA}.schema_migrations "
                "values (?, cast(current_timestamp at time zone 'UTC' as timestamp))",
                [version],
            )
            conn.execute("commit")
        except duckdb.Error as error:
            conn.execute("rollback")
            raise StateError(f"activation state migration {version} failed: {error}") from None
        except BaseException:
            conn.execute("rollback")
            raise


def migrate_warehouse(warehouse: Path) -> None:
    """Create or migrate the activation tables in the DuckDB file ``warehouse`` (what `cdp build` runs first)."""
    with duckdb.connect(str(warehouse)) as conn:
        migrate(conn)


def table_schema(table: str) -> pa.Schema:
    """The columns of activation.``table`` after every migration: what a warehouse without
    activation (the Spark target) gives dbt to read in its place."""
    with duckdb.connect() as conn:
        migrate(conn)
        return conn.sql(f"select * from {SCHEMA}.{table} limit 0").to_arrow_table().schema


@contextmanager
def open_state(warehouse: Path, read_only: bool) -> Iterator[StateStore]:
    """The store on ``warehouse``, migrated unless read-only."""
    conn = duckdb.connect(str(warehouse), read_only=read_only)
    try:
        if not read_only:
            migrate(conn)
        yield StateStore(conn)
    finally:
        conn.close()


@dataclass
class SourceRows:
    invalid: int  # rows without a key
    duplicate_keys: int


@dataclass
class Diff:
    counts: dict[str, int]  # operation -> rows
    managed: int  # keys in this sync's state
    has_rejections: bool
    sample: list[tuple[str, str, list[str] | None]]  # (operation, key, changed fields), first rows per operation


@dataclass
class DiffRow:
    key: str
    payload: dict[str, Any] | None
    previous: dict[str, Any] | None
    changed_fields: list[str] | None


@dataclass
class RowOutcome:
    """What became of one row of a state-sync batch."""

    status: str  # ok | rejected | failed
    error: str | None
    http_status: int | None
    attempts: int  # requests made for the part of the batch that carried the row
    provider_id: str | None


@dataclass
class MergeOutcome:
    loser: str
    winner: str
    merged_at: datetime | None
    moved: bool
    error: str | None
    http_status: int | None
    attempts: int
    provider_id: str | None


@dataclass
class PendingJob:
    job_id: str
    submitted_by: str  # the run that submitted it
    keys: list[str]  # in request order


@dataclass
class Candidates:
    total: int
    by_channel: list[tuple[str, int]]
    sample: list[tuple[str, str, str, str]]  # (message_key, journey, step, channel)


@dataclass
class Consent:
    """The consent event a message is sent under: what `cdp explain` shows with the send."""

    status: str  # granted | revoked
    event_id: str
    subject_type: str | None
    channel: str | None  # as recorded (`all` stands for every channel)
    purpose: str | None
    recorded_at: datetime | None
    source: str | None


@dataclass
class Candidate:
    message_key: str
    person_id: str
    channel: str
    journey: str
    step: str
    fields: dict[str, Any]
    content_hash: str
    pending_since: datetime | None  # the intent of a send an interrupted run left pending
    consent: Consent | None  # the latest consent for the message's channel and purpose, when checked


@dataclass
class ConsentCheck:
    new_events: int  # consent events read from the new-events file or relation
    unresolved: int  # of those, subjects the identity graph does not know (no person to cancel for)
    revoked: int  # candidates whose person's latest consent is a revocation


@dataclass
class Send:
    """One message's ledger entry as a run sees it: its intent, then its outcome."""

    message_key: str
    person_id: str
    channel: str
    journey: str
    step: str
    content_hash: str
    recipient: str | None
    status: str  # pending | sent | rejected | failed | unknown | skipped (no ledger row)
    provider_message_id: str | None = None
    error: str | None = None
    http_status: int | None = None
    attempts: int = 1
    consent_event_id: str | None = None
    consent_subject_type: str | None = None
    consent_channel: str | None = None
    consent_purpose: str | None = None
    consent_recorded_at: datetime | None = None
    consent_source: str | None = None

    def under(self, consent: Consent | None) -> None:
        """Record ``consent`` as the one this message is sent (or cancelled) under."""
        if consent is not None:
            self.consent_event_id, self.consent_subject_type = consent.event_id, consent.subject_type
            self.consent_channel, self.consent_purpose = consent.channel, consent.purpose
            self.consent_recorded_at, self.consent_source = consent.recorded_at, consent.source


_SEND_SCHEMA = pa.schema(
    [
        ("message_key", pa.string()),
        ("person_id", pa.string()),
        ("channel", pa.string()),
        ("journey", pa.string()),
        ("step", pa.string()),
        ("content_hash", pa.string()),
        ("recipient", pa.string()),
        ("status", pa.string()),
        ("provider_message_id", pa.string()),
        ("error", pa.string()),
        ("http_status", pa.int32()),
        ("attempts", pa.int32()),
        ("consent_event_id", pa.string()),
        ("consent_subject_type", pa.string()),
        ("consent_channel", pa.string()),
        ("consent_purpose", pa.string()),
        ("consent_recorded_at", pa.timestamp("us")),
        ("consent_source", pa.string()),
    ]
)
_JOB_REJECTS_SCHEMA = pa.schema([("record_key", pa.string()), ("error", pa.string())])
# The consent a message is sent under (StateStore.apply_consents fills them in act_messages).
_CONSENT_COLUMNS = (
    "consent_status",
    "consent_event_id",
    "consent_subject_type",
    "consent_channel",
    "consent_purpose",
    "consent_recorded_at",
    "consent_source",
)
_NO_CONSENT = ", ".join(
    f"null::{'timestamp' if c == 'consent_recorded_at' else 'varchar'} as {c}" for c in _CONSENT_COLUMNS
)
_LEDGER_CONSENT = ", ".join(f"i.{c}" for c in _CONSENT_COLUMNS[1:])
# The consent purpose a message needs, as the plan decides it (int_message_candidates):
# transactional steps need transactional consent, every other step marketing consent.
_CONSENT_PURPOSE = "case when cast(p.purpose as varchar) = 'transactional' then 'transactional' else 'marketing' end"
_NO_IDENTIFIERS = (
    "(select null::varchar person_id, null::varchar identifier_type, null::varchar identifier_value where false)"
)
# A consent event's subject type -> the identity graph's identifier type (macro cdp_subject_identifier_type).
_SUBJECT_IDENTIFIER_TYPE = "case when subject_type = 'customer_id' then 'crm_customer_id' else subject_type end"
# Empty stand-ins for a dry run on a warehouse that never synced (no activation schema yet).
_EMPTY_STATE = {
    "sync_state": "select ''::varchar sync_name, ''::varchar record_key, ''::varchar content_hash, "
    "'{}'::json payload, ''::varchar provider_id",
    "rejected_rows": "select ''::varchar sync_name, ''::varchar record_key, ''::varchar content_hash, "
    "''::varchar operation",
    "send_ledger": "select ''::varchar sync_name, ''::varchar message_key, ''::varchar status, "
    "''::varchar content_hash, null::timestamp intent_at",
}
_RUN_COUNTERS = {  # sync_runs column -> SyncReport attribute
    "adds": "adds",
    "changes": "changes",
    "removes": "removes",
    "sends": "sends",
    "merges": "merges",
    "rows_ok": "ok",
    "rows_rejected": "rejected",
    "rows_failed": "failed",
    "rows_unknown": "unknown",
    "rows_skipped": "skipped",
    "rows_invalid": "invalid",
    "rows_cancelled": "cancelled",
    "deletions_done": "deletions_done",
    "deletions_pending": "deletions_pending",
    "http_requests": "http_requests",
    "http_throttled": "http_throttled",
    "jobs_submitted": "jobs_submitted",
    "jobs_pending": "jobs_pending",
    "job_rows_rejected": "job_rows_rejected",
}


def utc_now() -> datetime:
    """Naive UTC, like every timestamp in the warehouse."""
    return datetime.now(UTC).replace(tzinfo=None)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class StateStore:
    def __init__(self, conn: duckdb.DuckDBPyConnection):
        self.conn = conn
        # A dry run on a warehouse that never synced has no activation schema: it reads empty state.
        self.has_state = self.relation_exists(f"{SCHEMA}.schema_migrations")
        self._has_e164 = False

    # ------------------------------------------------------------------ plumbing
    def _scalar(self, sql: str, parameters: Any = None) -> Any:
        return self.conn.execute(sql, parameters or []).fetchall()[0][0]

    def _state(self, table: str) -> str:
        return f"{SCHEMA}.{table}" if self.has_state else f"(select * from ({_EMPTY_STATE[table]}) where false)"

    def _transaction(self, work: Callable[[], None]) -> None:
        self.conn.execute("begin")
        try:
            work()
            self.conn.execute("commit")
        except BaseException:
            self.conn.execute("rollback")
            raise

    @contextmanager
    def _registered(self, name: str, table: pa.Table) -> Iterator[None]:
        self.conn.register(name, table)
        try:
            yield
        finally:
            self.conn.unregister(name)

    # ------------------------------------------------------------------ relations the syncs read
    def relation_exists(self, relation: str) -> bool:
        schema, name = relation.split(".", 1)
        return bool(
            self._scalar(
                "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                [schema, name],
            )
        )

    def relation_columns(self, relation: str) -> list[str]:
        schema, name = relation.split(".", 1)
        rows = self.conn.execute(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [schema, name],
        ).fetchall()
        return [column for (column,) in rows]

    def plan_built_at(self, relation: str) -> datetime | None:
        """When the plan behind a message sync's source was built (its latest plan_built_at)."""
        return self._scalar(f"select max(plan_built_at) from {relation}")

    # ------------------------------------------------------------------ runs
    def mark_interrupted_runs(self, now: datetime) -> None:
        """One writer at a time: a run still marked running was cut off (killed, power loss)."""
        self.conn.execute(
            "update activation.sync_runs set status = 'interrupted', finished_at = ? where status = 'running'", [now]
        )

    def start_run(self, run_id: str, sync: SyncConfig, started_at: datetime) -> None:
        self.conn.execute(
            "insert into activation.sync_runs (sync_run_id, sync_name, destination, kind, mode, started_at, status) "
            "values (?, ?, ?, ?, ?, ?, 'running')",
            [run_id, sync.name, sync.destination, sync.kind, sync.mode, started_at],
        )

    def finish_run(self, run_id: str, report: SyncReport, finished_at: datetime) -> None:
        assignments = ", ".join(f"{column} = ?" for column in _RUN_COUNTERS)
        self.conn.execute(
            f"update activation.sync_runs set finished_at = ?, status = ?, {assignments}, error = ? "
            "where sync_run_id = ?",
            [
                finished_at,
                report.status,
                *(getattr(report, attribute) for attribute in _RUN_COUNTERS.values()),
                report.error,
                run_id,
            ],
        )

    # ------------------------------------------------------------------ state syncs
    def load_source(self, sync: SyncConfig) -> SourceRows:
        """The source's rows as (record_key, JSON payload of the sync's fields), in act_source."""
        fields = ", ".join(f"{_quote(f)} := {_quote(f)}" for f in sync.fields)
        self.conn.execute(f"""
            create or replace temp table act_source as
            select cast({_quote(sync.key)} as varchar) as record_key, to_json(struct_pack({fields})) as payload
            from {sync.source}
        """)
        if self.relation_exists(f"{SCHEMA}.provider_deletions"):  # a dry run may read state of an older version
            # An erased person is never synced again, even if a source still holds the key.
            self.conn.execute(
                "delete from act_source where record_key in "
                "(select record_key from activation.provider_deletions where sync_name = ?)",
                [sync.name],
            )
        invalid = self._scalar("select count(*) from act_source where record_key is null")
        duplicates = self._scalar(
            "select count(*) from (select record_key from act_source where record_key is not null "
            "group by 1 having count(*) > 1)"
        )
        return SourceRows(invalid=invalid, duplicate_keys=duplicates)

    def diff(self, sync: SyncConfig) -> Diff:
        """Adds, changes (with the fields that changed) and removes against sync_state, in act_diff.

        Rows are hashed in SQL (md5 of the JSON payload); a row refused earlier with the same
        content is left out until its content changes. Only keys in this sync's own state can
        be removed. The mode decides which operations the diff keeps.
        """
        changed = ", ".join(
            f"case when json_extract_string(s.payload, '$.{f}') "
            f"is distinct from json_extract_string(t.payload, '$.{f}') then '{f}' end"
            for f in sync.fields
        )
        operations = {"add-only": "('add')", "upsert": "('add', 'change')", "mirror": "('add', 'change', 'remove')"}
        self.conn.execute(
            f"""
            create or replace temp table act_diff as
            with src as (
                select record_key, payload, md5(cast(payload as varchar)) as content_hash
                from act_source where record_key is not null
            ),
            synced as (
                select record_key, content_hash, payload from {self._state("sync_state")} where sync_name = $sync
            ),
            rejected as (
                select record_key, content_hash, operation from {self._state("rejected_rows")} where sync_name = $sync
            ),
            candidates as (
                select s.record_key, case when t.record_key is null then 'add' else 'change' end as operation,
                       s.payload, s.content_hash, t.payload as previous,
                       case when t.record_key is not null
                            then list_filter([{changed}], lambda x: x is not null) end as changed_fields
                from src s
                left join synced t using (record_key)
                left join rejected r using (record_key)
                where (t.record_key is null or t.content_hash <> s.content_hash)
                  and (r.record_key is null or r.content_hash <> s.content_hash)
                union all
                select t.record_key, 'remove', null, null, t.payload, null
                from synced t
                where not exists (select 1 from src s where s.record_key = t.record_key)
                  and not exists (select 1 from rejected r where r.record_key = t.record_key and r.operation = 'remove')
            )
            select row_number() over (order by operation, record_key) as seq, *
            from candidates where operation in {operations[sync.mode]}
        """,
            {"sync": sync.name},
        )
        counts = dict(self.conn.execute("select operation, count(*) from act_diff group by 1").fetchall())
        managed = self._scalar(f"select count(*) from {self._state('sync_state')} where sync_name = ?", [sync.name])
        rejections = self._scalar(
            f"select count(*) from {self._state('rejected_rows')} where sync_name = ?", [sync.name]
        )
        sample = []
        for operation in ("add", "change", "remove"):
            rows = self.conn.execute(
                "select record_key, changed_fields from act_diff where operation = ? order by seq limit ?",
                [operation, SAMPLE_SIZE],
            ).fetchall()
            sample += [(operation, key, changed_fields) for key, changed_fields in rows]
        return Diff(counts=counts, managed=managed, has_rejections=rejections > 0, sample=sample)

    def operation_range(self, operation: str) -> tuple[int, int] | None:
        """The first and last seq of ``operation`` in act_diff, or None when it has no rows."""
        first, last = self.conn.execute(
            "select min(seq), max(seq) from act_diff where operation = ?", [operation]
        ).fetchall()[0]
        return None if first is None else (first, last)

    def diff_rows(self, operation: str, start: int, end: int) -> list[DiffRow]:
        """Rows seq in [start, end) of one operation; JSON is parsed once per batch, not per row."""
        keys, payloads, previous, changed = self.conn.execute(
            """select list(record_key order by seq),
                      '[' || string_agg(coalesce(cast(payload as varchar), 'null'), ',' order by seq) || ']',
                      '[' || string_agg(coalesce(cast(previous as varchar), 'null'), ',' order by seq) || ']',
                      list(changed_fields order by seq)
               from act_diff where operation = ? and seq >= ? and seq < ?""",
            [operation, start, end],
        ).fetchall()[0]
        return [
            DiffRow(key, payload, before, changed_fields)
            for key, payload, before, changed_fields in zip(
                keys, json.loads(payloads), json.loads(previous), changed, strict=True
            )
        ]

    def record_batch(
        self,
        sync: SyncConfig,
        run_id: str,
        operation: str,
        start: int,
        outcomes: list[RowOutcome],
        delivered: bool,
        tracks_jobs: bool,
        clears_rejections: bool,
        now: datetime,
    ) -> None:
        """One batch's log, state, rejections and import jobs, in one transaction.

        ``delivered`` False (the provider stayed unavailable): only the log is written, and the
        next run sends the batch again. ``tracks_jobs``: the provider ids of acknowledged adds
        and changes are asynchronous import jobs, recorded with the keys they carry.
        """
        outcome = pa.table(
            {
                "seq": pa.array(range(start, start + len(outcomes)), pa.int64()),
                "status": pa.array([o.status for o in outcomes], pa.string()),
                "error": pa.array([o.error for o in outcomes], pa.string()),
                "http_status": pa.array([o.http_status for o in outcomes], pa.int32()),
                "attempts": pa.array([o.attempts for o in outcomes], pa.int32()),
                "provider_id": pa.array([o.provider_id for o in outcomes], pa.string()),
            }
        )
        params = {"sync": sync.name, "now": now, "run": run_id}
        # A range filter lets DuckDB skip the rest of act_diff instead of scanning it per batch.
        batch = f"(select * from act_diff where seq >= {int(start)} and seq < {int(start + len(outcomes))}) as"

        def work() -> None:
            conn = self.conn
            conn.execute(
                f"""
                insert into activation.sync_log
                select $run, $sync, d.record_key, d.operation, o.status, o.error, o.http_status, o.attempts,
                       o.provider_id, $now
                from act_outcome o join {batch} d using (seq)
            """,
                params,
            )
            if not delivered:
                return
            # ON CONFLICT goes through the primary key index; a join with the whole state
            # table would make every batch cost as much as everything synced so far.
            conn.execute(
                f"""
                insert into activation.sync_state
                select $sync, d.record_key, d.content_hash, d.payload, o.provider_id, $now, $now, $run
                from act_outcome o join {batch} d using (seq)
                where o.status = 'ok' and d.operation in ('add', 'change')
                on conflict (sync_name, record_key) do update set
                    content_hash = excluded.content_hash, payload = excluded.payload,
                    provider_id = coalesce(excluded.provider_id, sync_state.provider_id),
                    last_synced_at = excluded.last_synced_at, last_sync_run_id = excluded.last_sync_run_id
            """,
                params,
            )
            if tracks_jobs and operation != "remove":
                conn.execute(
                    f"""
                    insert into activation.provider_jobs
                        (sync_name, job_id, destination, sync_run_id, record_keys, submitted_at, status)
                    select $sync, o.provider_id, $destination, $run, to_json(list(d.record_key order by d.seq)),
                           $now, 'pending'
                    from act_outcome o join {batch} d using (seq)
                    where o.status = 'ok' and d.operation in ('add', 'change') and o.provider_id is not null
                    group by o.provider_id
                    on conflict do nothing
                """,
                    params | {"destination": sync.destination},
                )
            if operation == "remove":
                conn.execute(
                    f"""
                    delete from activation.sync_state where sync_name = $sync and record_key in
                    (select d.record_key from act_outcome o join {batch} d using (seq) where o.status = 'ok')
                """,
                    {"sync": sync.name},
                )
            if clears_rejections:
                conn.execute(
                    f"""
                    delete from activation.rejected_rows where sync_name = $sync and record_key in
                    (select d.record_key from act_outcome o join {batch} d using (seq) where o.status = 'ok')
                """,
                    {"sync": sync.name},
                )
            conn.execute(
                f"""
                insert or replace into activation.rejected_rows
                select $sync, d.record_key, coalesce(d.content_hash, ''), d.operation, o.error, o.http_status,
                       $now, $run
                from act_outcome o join {batch} d using (seq) where o.status = 'rejected'
            """,
                params,
            )

        with self._registered("act_outcome", outcome):
            self._transaction(work)

    def movable_merges(self, sync: SyncConfig, merge_log: str) -> list[tuple[str, str, datetime, dict[str, Any]]]:
        """(loser, winner, merged_at, loser's last payload) for synced losers whose winner is not synced.

        Each loser's latest merge counts; of two profiles merged into one winner only the
        earliest moves (the other is removed as usual); a merge is processed once.
        """
        rows = self.conn.execute(
            f"""
            with merges as (
                select cast(loser_person_id as varchar) as loser, cast(winner_person_id as varchar) as winner,
                       merged_at
                from {merge_log}
            ),
            latest as (
                select * from merges qualify row_number() over (partition by loser order by merged_at desc) = 1
            ),
            movable as (
                select l.loser, l.winner, l.merged_at, cast(s.payload as varchar) as payload
                from latest l
                join activation.sync_state s on s.sync_name = $sync and s.record_key = l.loser
                where not exists (
                        select 1 from activation.sync_state w where w.sync_name = $sync and w.record_key = l.winner
                    )
                  and not exists (
                        select 1 from activation.merge_state ms
                        where ms.sync_name = $sync and ms.loser_person_id = l.loser and ms.winner_person_id = l.winner
                    )
                qualify row_number() over (partition by l.winner order by l.merged_at, l.loser) = 1
            )
            select loser, winner, merged_at, payload from movable order by merged_at, loser
        """,
            {"sync": sync.name},
        ).fetchall()
        return [(loser, winner, merged_at, json.loads(payload)) for loser, winner, merged_at, payload in rows]

    def record_merges(self, sync: SyncConfig, run_id: str, merges: list[MergeOutcome], now: datetime) -> None:
        """Moved merges take their state row to the winner's key; every merge is recorded once."""

        def work() -> None:
            for merge in merges:
                if merge.moved:
                    self.conn.execute(
                        "update activation.sync_state set record_key = ?, last_sync_run_id = ? "
                        "where sync_name = ? and record_key = ?",
                        [merge.winner, run_id, sync.name, merge.loser],
                    )
                self.conn.execute(
                    "insert or replace into activation.merge_state values (?, ?, ?, ?, ?, ?, ?)",
                    [
                        sync.name,
                        merge.loser,
                        merge.winner,
                        merge.merged_at,
                        "moved" if merge.moved else "not_moved",
                        merge.error,
                        now,
                    ],
                )
                self.conn.execute(
                    "insert into activation.sync_log values (?, ?, ?, 'merge', ?, ?, ?, ?, ?, ?)",
                    [
                        run_id,
                        sync.name,
                        merge.loser,
                        "ok" if merge.moved else "rejected",
                        merge.error,
                        merge.http_status,
                        merge.attempts,
                        merge.provider_id,
                        now,
                    ],
                )

        self._transaction(work)

    # ------------------------------------------------------------------ asynchronous import jobs
    def pending_jobs(self, sync: SyncConfig) -> list[PendingJob]:
        rows = self.conn.execute(
            "select job_id, sync_run_id, cast(record_keys as varchar) from activation.provider_jobs "
            "where sync_name = ? and status = 'pending' order by submitted_at, job_id",
            [sync.name],
        ).fetchall()
        return [PendingJob(job_id, submitted_by, json.loads(keys)) for job_id, submitted_by, keys in rows]

    def pending_job_count(self, sync: SyncConfig) -> int:
        return self._scalar(
            "select count(*) from activation.provider_jobs where sync_name = ? and status = 'pending'", [sync.name]
        )

    def job_payloads(self, sync: SyncConfig, job: PendingJob) -> dict[str, dict[str, Any]]:
        """The payloads of the job's rows that it still speaks for (their state is still what it carried)."""
        rows = self.conn.execute(
            """
            select record_key, cast(payload as varchar) from activation.sync_state
            where sync_name = ? and last_sync_run_id = ? and provider_id = ? and record_key in (select unnest(?))
        """,
            [sync.name, job.submitted_by, job.job_id, job.keys],
        ).fetchall()
        return {key: json.loads(payload) for key, payload in rows}

    def record_job_check(self, sync: SyncConfig, job_id: str, now: datetime) -> None:
        """The job is still running."""
        self.conn.execute(
            "update activation.provider_jobs set checks = checks + 1, last_checked_at = ? "
            "where sync_name = ? and job_id = ?",
            [now, sync.name, job_id],
        )

    def finish_job(
        self,
        sync: SyncConfig,
        job: PendingJob,
        status: str,
        rows_failed: int | None,
        detail: str | None,
        rejected: dict[str, str],
        run_id: str,
        now: datetime,
    ) -> None:
        """A finished job and the rows it failed, in one transaction.

        A failed row is handled like a row refused at once: rejected_rows with the provider's
        error and a `rejected` line in the sync log (in this run), retried once its content
        changes. An add never landed, so its state row goes; for a change the provider holds
        an older version we no longer know, so the key stays managed with an empty payload
        (the next change sends every field). The run that sent the rows has its counts
        corrected.
        """
        rows = [{"record_key": key, "error": error[:500]} for key, error in rejected.items()]
        params = {"sync": sync.name, "job": job.job_id, "submitted_by": job.submitted_by, "run": run_id, "now": now}
        # The operation that sent each row, from the submitting run's log.
        operations = """(select record_key, any_value(operation) as operation from activation.sync_log
                         where sync_run_id = $submitted_by and sync_name = $sync and provider_id = $job
                           and status = 'ok'
                         group by record_key)"""

        def work() -> None:
            conn = self.conn
            if rows:
                conn.execute(
                    f"""
                    insert into activation.sync_log
                    select $run, $sync, r.record_key, coalesce(o.operation, 'change'), 'rejected', r.error, null,
                           null, $job, $now
                    from act_job_rejects r left join {operations} o using (record_key)
                """,
                    params,
                )
                conn.execute(
                    f"""
                    insert or replace into activation.rejected_rows
                    select $sync, r.record_key, s.content_hash, coalesce(o.operation, 'change'), r.error, null,
                           $now, $run
                    from act_job_rejects r
                    join activation.sync_state s on s.sync_name = $sync and s.record_key = r.record_key
                    left join {operations} o on o.record_key = r.record_key
                """,
                    params,
                )
                conn.execute(
                    f"""
                    delete from activation.sync_state where sync_name = $sync and record_key in (
                        select r.record_key from act_job_rejects r join {operations} o using (record_key)
                        where o.operation = 'add')
                """,
                    {k: params[k] for k in ("sync", "job", "submitted_by")},
                )
                conn.execute(
                    """
                    update activation.sync_state set content_hash = '', payload = '{}'
                    where sync_name = $sync and record_key in (select record_key from act_job_rejects)
                """,
                    {"sync": sync.name},
                )
            conn.execute(
                """
                update activation.provider_jobs set status = ?, rows_failed = ?, rows_rejected = ?,
                       checks = checks + 1, last_checked_at = ?, finished_at = ?, error = ?
                where sync_name = ? and job_id = ?
            """,
                [status, rows_failed, len(rows), now, now, detail, sync.name, job.job_id],
            )
            if rows:
                conn.execute(
                    "update activation.sync_runs set rows_ok = rows_ok - ?, rows_rejected = rows_rejected + ? "
                    "where sync_run_id = ?",
                    [len(rows), len(rows), job.submitted_by],
                )

        with self._registered("act_job_rejects", pa.Table.from_pylist(rows, schema=_JOB_REJECTS_SCHEMA)):
            self._transaction(work)

    # ------------------------------------------------------------------ erasure at the providers
    def capture_erasures(
        self, sync: SyncConfig, erased: str, fields: tuple[str, ...], supported: bool, now: datetime
    ) -> int:
        """Move this sync's keys of erased persons (``erased``: person_id, is_erased) from sync_state
        to provider_deletions, keeping only ``fields`` of what was synced, in one transaction.
        Their rejected rows go too. Returns how many were captured."""
        address = "json_object(" + ", ".join(f"{_literal(f)}, s.payload->>{_literal(f)}" for f in fields) + ")"
        params = {"sync": sync.name, "destination": sync.destination, "now": now}
        captured = 0

        def work() -> None:
            nonlocal captured
            self.conn.execute(
                f"""
                create or replace temp table act_erased as
                select s.record_key, {address if fields and supported else "null::json"} as address
                from activation.sync_state s
                where s.sync_name = $sync
                  and s.record_key in (select cast(person_id as varchar) from {erased} where is_erased)
            """,
                {"sync": sync.name},
            )
            captured = self._scalar("select count(*) from act_erased")
            self.conn.execute(
                f"""
                insert or replace into activation.provider_deletions
                select $sync, record_key, $destination, address, '{"pending" if supported else "unsupported"}', 0,
                       null, $now, null, null
                from act_erased
            """,
                params,
            )
            for table in ("sync_state", "rejected_rows"):
                self.conn.execute(
                    f"delete from activation.{table} where sync_name = $sync "
                    "and record_key in (select record_key from act_erased)",
                    {"sync": sync.name},
                )

        self._transaction(work)
        return captured

    def erase_persons(self, person_ids: list[str], addresses: list[str]) -> dict[str, int]:
        """Remove what activation keeps of erased persons (``person_ids``, and ``addresses`` they were
        reached at), in one transaction; returns the rows removed (or cleared) per table.

        Message events, sync log and rejected rows of the persons and their messages go. The
        send ledger keeps each message key and outcome, so that nothing is sent twice, with
        its provider error dropped. sync_state is left to the next sync, which hands what a
        provider deletion needs to provider_deletions (capture_erasures) and drops the rest.
        """
        counts: dict[str, int] = {}
        params = {"persons": person_ids, "addresses": addresses}

        def work() -> None:
            self.conn.execute(
                "create or replace temp table act_erased_keys as "
                "select unnest($persons::varchar[]) as record_key union "
                "select message_key from activation.send_ledger "
                "where person_id in (select unnest($persons::varchar[]))",
                {"persons": person_ids},
            )
            counts["message_events"] = self.conn.execute(
                "delete from activation.message_events where person_id in (select unnest($persons::varchar[])) "
                "or recipient in (select unnest($addresses::varchar[])) "
                "or message_key in (select record_key from act_erased_keys)",
                params,
            ).fetchone()[0]
            for table in ("sync_log", "rejected_rows"):
                counts[table] = self.conn.execute(
                    f"delete from activation.{table} where record_key in (select record_key from act_erased_keys)"
                ).fetchone()[0]
            counts["send_ledger"] = self.conn.execute(
                "update activation.send_ledger set error = null "
                "where person_id in (select unnest($persons::varchar[])) and error is not null",
                {"persons": person_ids},
            ).fetchone()[0]

        self._transaction(work)
        return counts

    def pending_deletions(self, sync: SyncConfig) -> list[tuple[str, dict[str, Any]]]:
        rows = self.conn.execute(
            "select record_key, cast(address as varchar) from activation.provider_deletions "
            "where sync_name = ? and status = 'pending' order by requested_at, record_key",
            [sync.name],
        ).fetchall()
        return [(key, json.loads(address) if address else {}) for key, address in rows]

    def record_deletion(self, sync: SyncConfig, key: str, done: bool, error: str | None, now: datetime) -> None:
        """One deletion request's outcome; once done, the address it needed is dropped."""
        self.conn.execute(
            """
            update activation.provider_deletions
            set attempts = attempts + 1, last_attempt_at = $now, error = $error,
                status = case when $done then 'done' else status end,
                address = case when $done then null else address end,
                done_at = case when $done then $now end
            where sync_name = $sync and record_key = $key
        """,
            {"sync": sync.name, "key": key, "done": done, "error": error, "now": now},
        )

    # ------------------------------------------------------------------ message sends
    def load_candidates(
        self, sync: SyncConfig, now: datetime, resend_pending: bool, has_purpose: bool = False
    ) -> Candidates:
        """The messages to send, in act_messages (seq from 1).

        Planned, due, on the sync's channels, and not in the ledger, or in it as `failed`,
        `rejected` with other content, or `pending` from this sync where the provider
        deduplicates by our key or can be asked whether it went out (``resend_pending``).
        The step is an integer (the plan's contract): a source whose step is not fails here,
        before anything is recorded. The consent columns stay empty until apply_consents.
        """
        join: JoinConfig | None = sync.join
        extra = f"left join {join.relation} j on j.{_quote(join.on)} = p.person_id" if join else ""
        field_sources = [f"{_quote(f)} := p.{_quote(f)}" for f in sync.fields]
        field_sources += [f"{_quote(c)} := j.{_quote(c)}" for c in (join.columns if join else ())]
        payload = f"to_json(struct_pack({', '.join(field_sources)}))" if field_sources else "'{}'::json"
        self.conn.execute(
            f"""
            create or replace temp table act_messages as
            with planned as (
                select cast(p.message_key as varchar) as message_key, cast(p.person_id as varchar) as person_id,
                       cast(p.channel as varchar) as channel, cast(p.journey as varchar) as journey,
                       cast(cast(p.step as integer) as varchar) as step, {payload} as payload,
                       {_CONSENT_PURPOSE if has_purpose else "null::varchar"} as purpose
                from {sync.source} p {extra}
                where p.status = 'planned' and p.send_after <= $now and p.channel in $channels
                  and p.message_key is not null
            ),
            hashed as (select *, md5(cast(payload as varchar)) as content_hash from planned)
            select row_number() over (order by h.journey, h.step, h.message_key) as seq, h.*,
                   case when l.status = 'pending' then l.intent_at end as pending_since,
                   {_NO_CONSENT}
            from hashed h left join {self._state("send_ledger")} l on l.message_key = h.message_key
            where l.message_key is null
               or l.status = 'failed'
               or (l.status = 'pending' and {"true" if resend_pending else "false"} and l.sync_name = $sync)
               or (l.status = 'rejected' and l.content_hash is distinct from h.content_hash)
        """,
            {"now": now, "channels": list(sync.channels), "sync": sync.name},
        )
        by_channel = self.conn.execute("select channel, count(*) from act_messages group by 1 order by 1").fetchall()
        sample = self.conn.execute(
            "select message_key, journey, step, channel from act_messages order by seq limit ?", [SAMPLE_SIZE]
        ).fetchall()
        return Candidates(total=sum(n for _, n in by_channel), by_channel=by_channel, sample=sample)

    def candidates(self, start: int, end: int) -> list[Candidate]:
        """The candidates with seq in [start, end), in order."""
        rows = self.conn.execute(
            "select message_key, person_id, channel, journey, step, cast(payload as varchar), content_hash, "
            f"pending_since, {', '.join(_CONSENT_COLUMNS)} from act_messages where seq >= ? and seq < ? order by seq",
            [start, end],
        ).fetchall()
        return [
            Candidate(*row[:5], json.loads(row[5]), row[6], row[7], Consent(*row[8:]) if row[8] else None)
            for row in rows
        ]

    def apply_consents(
        self,
        consents: ConsentConfig,
        channels: list[str],
        phone_kinds: list[str],
        new_events_file: Path | None,
        phone_to_e164: Callable[[str], str | None] | None,
    ) -> ConsentCheck | None:
        """Give each candidate in act_messages its person's latest consent for its channel and purpose
        (latest_consents). None when there is nothing to check against (no build, no new events)."""
        identifiers = self.latest_consents(consents, channels, phone_kinds, new_events_file, phone_to_e164)
        if identifiers is None:
            return None
        self.conn.execute(
            f"""
            create or replace temp table act_messages as
            select m.* exclude ({", ".join(_CONSENT_COLUMNS)}),
                   l.consent_status, l.consent_event_id, l.subject_type as consent_subject_type,
                   l.recorded_channel as consent_channel, l.purpose as consent_purpose,
                   l.recorded_at as consent_recorded_at, l.consent_source
            from act_messages m
            left join act_consent_latest l on l.person_id = m.person_id and l.channel = m.channel
                and l.purpose = m.purpose
        """
        )
        new, unresolved = self._new_consent_events(identifiers)
        revoked = self._scalar("select count(*) from act_messages where consent_status = 'revoked'")
        return ConsentCheck(new_events=new, unresolved=unresolved, revoked=revoked)

    def apply_member_consents(
        self,
        consents: ConsentConfig,
        consent_fields: dict[str, str | None],
        phone_kinds: list[str],
        new_events_file: Path | None,
        phone_to_e164: Callable[[str], str | None] | None,
    ) -> ConsentCheck | None:
        """Re-check the marketing consent of a state sync's rows in act_source (key: person_id).

        ``consent_fields`` maps each channel the membership rests on to the payload field
        that carries its consent (None: not carried). A row whose person's latest marketing
        consent (latest_consents) is granted on none of the channels leaves act_source, so
        that the diff removes the person from the provider's list; a channel revoked since
        the build turns its payload field false (the provider unsubscribes it).
        """
        identifiers = self.latest_consents(consents, list(consent_fields), phone_kinds, new_events_file, phone_to_e164)
        if identifiers is None:
            return None
        revoked = self._scalar(
            """
            select count(*) from act_source s
            where s.record_key is not null and not exists (
                select 1 from act_consent_latest l
                where l.person_id = s.record_key and l.purpose = 'marketing' and l.consent_status = 'granted')
        """
        )
        self.conn.execute(
            """
            delete from act_source s
            where s.record_key is not null and not exists (
                select 1 from act_consent_latest l
                where l.person_id = s.record_key and l.purpose = 'marketing' and l.consent_status = 'granted')
        """
        )
        for channel, field_name in consent_fields.items():
            if field_name is None:
                continue
            self.conn.execute(
                f"""
                update act_source s set payload = json_merge_patch(payload, json_object({_literal(field_name)}, false))
                where exists (
                    select 1 from act_consent_latest l
                    where l.person_id = s.record_key and l.channel = $channel and l.purpose = 'marketing'
                      and l.consent_status = 'revoked')
            """,
                {"channel": channel},
            )
        new, unresolved = self._new_consent_events(identifiers)
        return ConsentCheck(new_events=new, unresolved=unresolved, revoked=revoked)

    def _new_consent_events(self, identifiers: str) -> tuple[int, int]:
        """How many consent events latest_consents read as new, and of those how many name no known subject."""
        return self.conn.execute(
            f"""
            select count(*), count(*) filter (where not exists (
                select 1 from {identifiers} i
                where i.identifier_type = e.identifier_type and i.identifier_value = e.identifier_value))
            from act_consent_events e
        """
        ).fetchone()

    def latest_consents(
        self,
        consents: ConsentConfig,
        channels: list[str],
        phone_kinds: list[str],
        new_events_file: Path | None,
        phone_to_e164: Callable[[str], str | None] | None,
    ) -> str | None:
        """Each person's latest consent per channel (of ``channels``) and purpose, in act_consent_latest.

        The latest of what the plan used (``consents.resolved``, as of the last build) and of
        the events recorded since (a file and/or a relation in the raw contract's columns,
        read whole: a revocation stamped after the build's as-of counts too), each subject
        resolved to persons through the identity graph after the same normalisation as
        staging (e-mails trimmed and lower-cased, phones to E.164 with ``phone_to_e164``).
        A revocation wins a tie; an event for channel `all` applies to every channel.
        Returns the identity relation the new events were resolved through; None when there
        is nothing to check against (no build, no new events).
        """
        sources = []
        if new_events_file is not None:
            if not new_events_file.exists():
                raise ConfigError(f"consent events file {new_events_file} does not exist")
            sources.append(f"select * from read_csv({_literal(str(new_events_file))}, all_varchar = true)")
        if consents.new_events_relation:
            if not self.relation_exists(consents.new_events_relation):
                raise ConfigError(f"consents.new_events_relation {consents.new_events_relation} does not exist")
            sources.append(f"select * from {consents.new_events_relation}")
        has_resolved = self.relation_exists(consents.resolved)
        if not sources and not has_resolved:
            return None
        if sources and not self.relation_exists(consents.identifiers):
            raise ConfigError(f"{consents.identifiers} does not exist: run `cdp build` before checking new consents")
        if sources and phone_to_e164 is None:
            raise ConfigError("new consent events need the project's phone normalisation (run them through cdp sync)")
        if phone_to_e164 is not None:
            normalise = phone_to_e164  # DuckDB reads the parameters of what it is given: one, here

            def e164(text: str | None) -> str | None:
                return None if text is None else normalise(text)

            if not self._has_e164:  # one per connection; every sync of the run shares it
                self.conn.create_function("act_e164", e164, ["VARCHAR"], "VARCHAR", null_handling="special")
                self._has_e164 = True
        new_events = "\nunion all by name\n".join(sources) or (
            "select null::varchar subject_type, null::varchar subject_value, null::varchar channel, "
            "null::varchar purpose, null::varchar status, null::varchar recorded_at, null::varchar source where false"
        )
        phones = ", ".join(_literal(kind) for kind in phone_kinds)
        identifiers = consents.identifiers if sources else _NO_IDENTIFIERS
        phone_value = "act_e164(replace(lower(subject_value), 'whatsapp:', ''))" if phone_to_e164 else "null"
        known = "select null::varchar person_id, null::varchar channel, null::varchar purpose, " + (
            "null::varchar consent_status, null::timestamp recorded_at, null::varchar consent_event_id, "
            "null::varchar subject_type, null::varchar recorded_channel, null::varchar consent_source where false"
        )
        if has_resolved:
            source_join = (
                f"left join {consents.events} e on e.consent_event_id = r.consent_event_id"
                if self.relation_exists(consents.events)
                else ""
            )
            known = f"""
                select r.person_id, r.channel, r.purpose, r.consent_status, r.recorded_at, r.consent_event_id,
                       r.subject_type, r.recorded_channel,
                       {"e.consent_source" if source_join else "null::varchar"} as consent_source
                from {consents.resolved} r {source_join}"""
        self.conn.execute(
            f"""
            create or replace temp table act_consent_events as
            with raw as (
                select lower(trim(subject_type)) as subject_type, trim(subject_value) as subject_value,
                       lower(trim(channel)) as channel, lower(trim(purpose)) as purpose,
                       lower(trim(status)) as consent_status, trim(recorded_at) as recorded_at_text,
                       nullif(trim(source), '') as consent_source
                from ({new_events})
            ),
            normalised as (
                select *,
                       case when subject_type = 'email' then lower(subject_value)
                            when subject_type in ({phones}) then {phone_value}
                            else subject_value end as identifier_value,
                       {_SUBJECT_IDENTIFIER_TYPE} as identifier_type,
                       try_cast(try_cast(recorded_at_text as timestamptz) at time zone 'UTC' as timestamp)
                           as recorded_at
                from raw
            )
            select md5(concat_ws('|', coalesce(subject_type, '_cdp_null_'), coalesce(identifier_value, '_cdp_null_'),
                                 coalesce(channel, '_cdp_null_'), coalesce(purpose, '_cdp_null_'),
                                 coalesce(cast(recorded_at as varchar), '_cdp_null_'))) as consent_event_id, *
            from normalised
            where consent_status in ('granted', 'revoked')
        """
        )
        self.conn.execute(
            f"""
            create or replace temp table act_consent_latest as
            with channels as (select unnest($channels) as channel),
            new_person_events as (
                select i.person_id, c.channel, e.purpose, e.consent_status,
                       -- A revocation whose time cannot be read is taken as the latest word: no message on a doubt.
                       case when e.recorded_at is null and e.consent_status = 'revoked'
                            then timestamp '9999-12-31' else e.recorded_at end as recorded_at,
                       e.consent_event_id, e.subject_type, e.channel as recorded_channel, e.consent_source
                from act_consent_events e
                join {identifiers} i
                  on i.identifier_type = e.identifier_type and i.identifier_value = e.identifier_value
                join channels c on e.channel = c.channel or e.channel = 'all'
                where e.recorded_at is not null or e.consent_status = 'revoked'
            ),
            every_event as (
                select * from ({known}) where channel in (select channel from channels)
                union all by name
                select * from new_person_events
            ),
            ranked as (
                select *, row_number() over (
                    partition by person_id, channel, purpose
                    order by recorded_at desc, case when consent_status = 'revoked' then 0 else 1 end, consent_event_id
                ) as recency_rank
                from every_event
            )
            select * exclude (recency_rank) from ranked where recency_rank = 1
        """,
            {"channels": channels},
        )
        return identifiers

    def interrupted_sends(self, sync: SyncConfig) -> list[Send]:
        """This sync's `pending` ledger rows that will not be sent again: cut off between the call
        and its record, by a provider that takes no idempotency key. They become unknown."""
        rows = self.conn.execute(
            """
            select message_key, person_id, channel, journey, step, content_hash, provider_message_id, http_status,
                   attempts
            from activation.send_ledger l
            where sync_name = ? and status = 'pending' and message_key not in (select message_key from act_messages)
        """,
            [sync.name],
        ).fetchall()
        error = (
            "interrupted between the provider call and its record; not repeated (the provider takes no idempotency key)"
        )
        return [
            Send(
                message_key=key,
                person_id=person_id,
                channel=channel,
                journey=journey,
                step=step,
                content_hash=content_hash,
                recipient=None,
                status="unknown",
                provider_message_id=provider_message_id,
                error=error,
                http_status=http_status,
                attempts=attempts,
            )
            for key, person_id, channel, journey, step, content_hash, provider_message_id, http_status, attempts in rows
        ]

    def record_intent(self, sync: SyncConfig, run_id: str, sends: list[Send], now: datetime) -> None:
        """The ledger rows of a request, committed as `pending` before the provider is called."""

        def work() -> None:
            self.conn.execute(
                f"""
                insert or replace into activation.send_ledger
                select i.message_key, $sync, $destination, i.person_id, i.channel, i.journey, i.step, i.content_hash,
                       'pending', coalesce(l.attempts, 0) + 1, null, null, null, $now, null, $run, {_LEDGER_CONSENT}
                from act_intent i left join activation.send_ledger l on l.message_key = i.message_key
            """,
                {"sync": sync.name, "destination": sync.destination, "now": now, "run": run_id},
            )

        with self._registered("act_intent", _sends_table(sends)):
            self._transaction(work)

    def record_outcomes(self, sync: SyncConfig, provider: str, run_id: str, sends: list[Send], now: datetime) -> None:
        """Ledger outcome, per-row log and message events, in one transaction."""
        params = {"sync": sync.name, "destination": sync.destination, "provider": provider, "now": now, "run": run_id}

        def work() -> None:
            conn = self.conn
            # A skipped message (e.g. no template configured yet) leaves no ledger row, so it goes out once fixed.
            conn.execute(
                "delete from activation.send_ledger "
                "where message_key in (select message_key from act_outcome where status = 'skipped')"
            )
            conn.execute(
                f"""
                insert or replace into activation.send_ledger
                select o.message_key, $sync, $destination, o.person_id, o.channel, o.journey, o.step, o.content_hash,
                       o.status, coalesce(l.attempts, o.attempts), o.provider_message_id, o.error, o.http_status,
                       coalesce(l.intent_at, $now), $now, $run, {_LEDGER_CONSENT.replace("i.", "o.")}
                from act_outcome o left join activation.send_ledger l on l.message_key = o.message_key
                where o.status <> 'skipped'
            """,
                {k: params[k] for k in ("sync", "destination", "now", "run")},
            )
            conn.execute(
                """
                insert into activation.sync_log
                select $run, $sync, message_key, 'send', case status when 'sent' then 'ok' else status end, error,
                       http_status, attempts, provider_message_id, $now
                from act_outcome
            """,
                {k: params[k] for k in ("run", "sync", "now")},
            )
            conn.execute(
                """
                insert into activation.message_events (
                    message_event_id, message_key, message_id, provider, destination, channel, person_id, recipient,
                    journey, step, event_type, occurred_at, sync_run_id
                )
                select md5(concat_ws('|', message_key, status, $run)), message_key, provider_message_id, $provider,
                       $destination, channel, person_id, recipient, journey, cast(step as integer),
                       case status when 'rejected' then 'failed' else status end, $now, $run
                from act_outcome where status in ('sent', 'rejected', 'unknown')
            """,
                {k: params[k] for k in ("run", "provider", "destination", "now")},
            )

        with self._registered("act_outcome", _sends_table(sends)):
            self._transaction(work)

    def sends_of(self, person_id: str) -> list[tuple]:
        """The person's ledger rows with the consent each went under (what `cdp explain` shows):
        (outcome_at, sync_name, channel, journey, step, status, consent_event_id, consent_subject_type,
        consent_channel, consent_purpose, consent_recorded_at, consent_source)."""
        if not self.has_state:
            return []
        return self.conn.execute(
            f"""
            select coalesce(outcome_at, intent_at), sync_name, channel, journey, step, status,
                   {", ".join(_CONSENT_COLUMNS[1:])}
            from activation.send_ledger where person_id = ? order by 1, message_key
        """,
            [person_id],
        ).fetchall()


def _sends_table(sends: list[Send]) -> pa.Table:
    return pa.Table.from_pylist([asdict(send) for send in sends], schema=_SEND_SCHEMA)
