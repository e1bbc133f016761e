"""The sync engine: diff in the warehouse, deliver in batches, record every outcome.

One engine holds the warehouse's write connection for a whole `cdp sync` (DuckDB takes
one writer at a time); a dry run reads through a read-only connection and writes
nothing.

State syncs: the source relation's rows are hashed in SQL and compared with
activation.sync_state; adds, changes (only changed fields where the provider takes
partial updates) and, in mirror mode, removes of keys this sync itself synced are
delivered batch by batch, and each acknowledged batch is committed before the next one
is sent. A batch the provider rejects as a whole is split until the bad rows are
isolated; those go to activation.rejected_rows and are retried only once their content
changes.

Message syncs: planned messages whose send_after has passed and that the send ledger
has not seen are sent once. The ledger row is committed as `pending` before the call and
updated after it. A `pending` row found at the start of a run is a send interrupted
between the call and the commit: where the provider deduplicates by our key it is sent
again with the same key, otherwise it is marked `unknown` and never repeated.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from activation.config import ActivationConfig, ConfigError, SyncConfig
from activation.destinations import destination_class
from activation.destinations.base import Destination, Message, Outcome, Record
from activation.http import AmbiguousError, DeliveryError, PermanentError, TransientError
from activation.jobs import check_jobs, register_jobs
from activation.state import has_schema, migrate, relation_columns, relation_exists

SAMPLE_SIZE = 5
# Batches of a state sync on the wire at once. The token bucket still sets the pace; two in
# flight let one request's round trip overlap the next one's preparation and the previous
# one's commit. A crash re-sends at most this many batches (upserts are idempotent).
PIPELINE_DEPTH = 2
# Statuses that say the request is wrong for every row (credentials, endpoint, method):
# splitting the batch would only repeat the same answer, so the sync stops instead.
_NOT_ROW_SPECIFIC = {401, 403, 404, 405}
_MESSAGE_COLUMNS = ("message_key", "person_id", "journey", "step", "channel", "send_after", "status")


class SyncAborted(Exception):
    """The destination refused in a way no row can fix; the message is safe to print."""


@dataclass
class SyncReport:
    sync: str
    destination: str
    kind: str
    mode: str
    status: str = "running"
    adds: int = 0
    changes: int = 0
    removes: int = 0
    sends: int = 0
    merges: int = 0
    managed: int = 0
    ok: int = 0
    rejected: int = 0
    failed: int = 0
    unknown: int = 0
    skipped: int = 0
    invalid: int = 0
    http_requests: int = 0
    http_throttled: int = 0
    jobs_submitted: int = 0
    jobs_pending: int = 0  # asynchronous imports not finished when the run ended
    job_rows_rejected: int = 0  # rows finished jobs failed, reconciled by this run
    error: str | None = None
    sample: list[str] = field(default_factory=list)


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def build_destinations(config: ActivationConfig) -> dict[str, Destination]:
    return {name: destination_class(c.type)(c) for name, c in config.destinations.items()}


def run_syncs(
    warehouse: Path,
    config: ActivationConfig,
    destination: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    now: datetime | None = None,
    destinations: dict[str, Destination] | None = None,
) -> list[SyncReport]:
    syncs = config.syncs_for(destination)
    if not Path(warehouse).exists():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist; run `cdp build` first")
    destinations = destinations or build_destinations(config)
    for sync in syncs:
        destinations[sync.destination].check_sync(sync)
    conn = duckdb.connect(str(warehouse), read_only=dry_run)
    try:
        if not dry_run:
            migrate(conn)
            # One writer at a time: a run still marked running was cut off (killed, power loss).
            conn.execute("update activation.sync_runs set status = 'interrupted', finished_at = ? where status = 'running'", [utc_now()])
        engine = SyncEngine(conn, config, destinations, dry_run=dry_run, force=force, now=now or utc_now())
        return [engine.run(sync) for sync in syncs]
    finally:
        conn.close()


class SyncEngine:
    def __init__(self, conn: duckdb.DuckDBPyConnection, config: ActivationConfig, destinations: dict[str, Destination],
                 dry_run: bool, force: bool, now: datetime):
        self.conn = conn
        self.config = config
        self.destinations = destinations
        self.dry_run = dry_run
        self.force = force
        self.now = now
        # A dry run on a warehouse that never synced has no activation schema: read empty state.
        self.has_state = has_schema(conn)

    # ------------------------------------------------------------------ shared plumbing
    def _state_relation(self, table: str, empty: str) -> str:
        return f"activation.{table}" if self.has_state else f"(select * from ({empty}) where false)"

    @property
    def sync_state(self) -> str:
        return self._state_relation("sync_state", "select ''::varchar sync_name, ''::varchar record_key, ''::varchar content_hash, '{}'::json payload, ''::varchar provider_id")

    @property
    def rejected_rows(self) -> str:
        return self._state_relation("rejected_rows", "select ''::varchar sync_name, ''::varchar record_key, ''::varchar content_hash, ''::varchar operation")

    @property
    def send_ledger(self) -> str:
        return self._state_relation("send_ledger", "select ''::varchar sync_name, ''::varchar message_key, ''::varchar status, ''::varchar content_hash")

    def _transaction(self, work: Callable[[], None]) -> None:
        self.conn.execute("begin")
        try:
            work()
            self.conn.execute("commit")
        except BaseException:
            self.conn.execute("rollback")
            raise

    def _register(self, name: str, rows: list[dict[str, Any]], schema: pa.Schema) -> None:
        self.conn.register(name, pa.Table.from_pylist(rows, schema=schema))

    def run(self, sync: SyncConfig) -> SyncReport:
        destination = self.destinations[sync.destination]
        report = SyncReport(sync=sync.name, destination=sync.destination, kind=sync.kind, mode=sync.mode)
        run_id = uuid.uuid4().hex
        if not relation_exists(self.conn, sync.source):
            report.status = "skipped"
            report.error = f"source {sync.source} does not exist yet (build its dbt model first)"
            return report
        requests_before, throttled_before = destination.http.stats.requests, destination.http.stats.throttled
        if not self.dry_run:
            self.conn.execute(
                "insert into activation.sync_runs (sync_run_id, sync_name, destination, kind, mode, started_at, status) values (?, ?, ?, ?, ?, ?, 'running')",
                [run_id, sync.name, sync.destination, sync.kind, sync.mode, self.now],
            )
        try:
            if not self.dry_run:
                destination.prepare()
            if sync.kind == "state":
                StateSync(self, sync, destination, run_id, report).run()
            else:
                MessageSync(self, sync, destination, run_id, report).run()
            if report.status == "running":
                report.status = "dry_run" if self.dry_run else ("succeeded" if not report.failed else "failed")
        except (SyncAborted, ConfigError, TransientError, PermanentError, duckdb.Error) as error:
            report.status = "failed"
            report.error = str(error)
        report.http_requests = destination.http.stats.requests - requests_before
        report.http_throttled = destination.http.stats.throttled - throttled_before
        if not self.dry_run:
            self.conn.execute(
                """update activation.sync_runs set finished_at = ?, status = ?, adds = ?, changes = ?, removes = ?, sends = ?, merges = ?,
                   rows_ok = ?, rows_rejected = ?, rows_failed = ?, rows_unknown = ?, rows_skipped = ?, rows_invalid = ?,
                   http_requests = ?, http_throttled = ?, jobs_submitted = ?, jobs_pending = ?, job_rows_rejected = ?, error = ?
                   where sync_run_id = ?""",
                [utc_now(), report.status, report.adds, report.changes, report.removes, report.sends, report.merges,
                 report.ok, report.rejected, report.failed, report.unknown, report.skipped, report.invalid,
                 report.http_requests, report.http_throttled, report.jobs_submitted, report.jobs_pending,
                 report.job_rows_rejected, report.error, run_id],
            )
        return report


def deliver(call: Callable[[list[Any]], list[Outcome]], rows: list[Any], counter: Callable[[], int]) -> list[tuple[Outcome, int]]:
    """Deliver rows; on a whole-request 4xx split the batch until each bad row stands alone.

    Returns (outcome, requests made for the part that carried the row) per row, in order.
    """
    before = counter()
    try:
        outcomes = call(rows)
    except PermanentError as error:
        if error.status in _NOT_ROW_SPECIFIC:
            raise SyncAborted(f"{error} (a credentials, endpoint or configuration problem, not a row problem)") from None
        if len(rows) == 1:
            return [(Outcome(ok=False, error=error.detail or str(error), status=error.status), counter() - before)]
        middle = len(rows) // 2
        return deliver(call, rows[:middle], counter) + deliver(call, rows[middle:], counter)
    if len(outcomes) != len(rows):
        raise SyncAborted(f"destination answered {len(outcomes)} outcomes for {len(rows)} rows")
    spent = counter() - before
    return [(o, spent) for o in outcomes]


class SyncRun:
    """One run of one sync: what both kinds share."""

    def __init__(self, engine: SyncEngine, sync: SyncConfig, destination: Destination, run_id: str, report: SyncReport):
        self.engine, self.sync, self.destination, self.run_id, self.report = engine, sync, destination, run_id, report
        self.conn = engine.conn


class StateSync(SyncRun):
    def run(self) -> None:
        follow_jobs = self.destination.async_upserts and not self.engine.dry_run
        if follow_jobs:
            # Before the diff: a row a finished job failed must not count as synced.
            check_jobs(self, wait=False)
        self._load_source()
        if not self.engine.dry_run and self.destination.supports_rekey and self.sync.key == "person_id":
            self._propagate_merges()
        self._diff()
        self._guard()
        if self.report.status == "refused" or self.engine.dry_run:
            return
        for operation in ("add", "change", "remove"):
            if not self._deliver_operation(operation):
                break
        if follow_jobs:
            check_jobs(self, wait=True)

    def _load_source(self) -> None:
        sync = self.sync
        columns = set(relation_columns(self.conn, sync.source))
        missing = [c for c in (sync.key, *sync.fields) if c not in columns]
        if missing:
            raise ConfigError(f"sync {sync.name!r}: {sync.source} lacks columns {', '.join(missing)}")
        fields = ", ".join(f"{quote(f)} := {quote(f)}" for f in sync.fields)
        self.conn.execute(f"""
            create or replace temp table act_source as
            select cast({quote(sync.key)} as varchar) as record_key, to_json(struct_pack({fields})) as payload
            from {sync.source}
        """)
        self.report.invalid = self.conn.execute("select count(*) from act_source where record_key is null").fetchall()[0][0]
        duplicates = self.conn.execute(
            "select count(*) from (select record_key from act_source where record_key is not null group by 1 having count(*) > 1)"
        ).fetchall()[0][0]
        if duplicates:
            raise ConfigError(f"sync {sync.name!r}: {duplicates} keys appear more than once in {sync.source}; a sync model has one row per {sync.key}")

    def _diff(self) -> None:
        sync, engine = self.sync, self.engine
        changed = ", ".join(
            f"case when json_extract_string(s.payload, '$.{f}') is distinct from json_extract_string(t.payload, '$.{f}') then '{f}' end"
            for f in sync.fields
        )
        operations = {"add-only": "('add')", "upsert": "('add', 'change')", "mirror": "('add', 'change', 'remove')"}[sync.mode]
        self.conn.execute(f"""
            create or replace temp table act_diff as
            with src as (
                select record_key, payload, md5(cast(payload as varchar)) as content_hash from act_source where record_key is not null
            ),
            synced as (select record_key, content_hash, payload from {engine.sync_state} where sync_name = $sync),
            rejected as (select record_key, content_hash, operation from {engine.rejected_rows} where sync_name = $sync),
            candidates as (
                select s.record_key, case when t.record_key is null then 'add' else 'change' end as operation,
                       s.payload, s.content_hash, t.payload as previous,
                       case when t.record_key is not null then list_filter([{changed}], lambda x: x is not null) end as changed_fields
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
            from candidates where operation in {operations}
        """, {"sync": sync.name})
        counts = dict(self.conn.execute("select operation, count(*) from act_diff group by 1").fetchall())
        self.report.adds, self.report.changes, self.report.removes = (counts.get(k, 0) for k in ("add", "change", "remove"))
        self.report.managed = self.conn.execute(f"select count(*) from {engine.sync_state} where sync_name = ?", [sync.name]).fetchall()[0][0]
        self.had_rejections = self.conn.execute(f"select count(*) from {engine.rejected_rows} where sync_name = ?", [sync.name]).fetchall()[0][0] > 0
        # Keys and changed field names only: enough to judge a sync, no personal values.
        for operation in ("add", "change", "remove"):
            rows = self.conn.execute(
                "select record_key, changed_fields from act_diff where operation = ? order by seq limit ?", [operation, SAMPLE_SIZE]
            ).fetchall()
            for key, changed_fields in rows:
                detail = f" ({', '.join(changed_fields)})" if changed_fields else ""
                self.report.sample.append(f"{operation} {key}{detail}")

    def _guard(self) -> None:
        report, share = self.report, self.sync.max_remove_share
        if report.removes and report.managed and report.removes > share * report.managed and not self.engine.force:
            report.status = "refused"
            report.error = (
                f"would remove {report.removes:,} of {report.managed:,} synced keys ({report.removes / report.managed:.0%}), "
                f"more than max_remove_share {share:.0%}; check the source or rerun with --force"
            )

    def _batch(self, operation: str, start: int, end: int) -> list[Record]:
        """Rows seq in [start, end) of one operation; JSON is parsed once per batch, not per row."""
        keys, payloads, previous, changed = self.conn.execute(
            """select list(record_key order by seq),
                      '[' || string_agg(coalesce(cast(payload as varchar), 'null'), ',' order by seq) || ']',
                      '[' || string_agg(coalesce(cast(previous as varchar), 'null'), ',' order by seq) || ']',
                      list(changed_fields order by seq)
               from act_diff where operation = ? and seq >= ? and seq < ?""",
            [operation, start, end],
        ).fetchall()[0]
        payloads, previous = json.loads(payloads), json.loads(previous)
        records = []
        for key, payload, before, changed_fields in zip(keys, payloads, previous, changed):
            payload = payload or {}
            if operation == "change" and self.destination.partial_updates:
                payload = {f: payload.get(f) for f in changed_fields}
            records.append(Record(key=key, fields=payload, previous=before))
        return records

    def _send(self, operation: str, records: list[Record]) -> tuple[list[tuple[Outcome, int]] | None, TransientError | None]:
        call = self.destination.remove if operation == "remove" else self.destination.upsert
        try:
            return deliver(lambda part: call(part, self.sync), records, self.destination.http.requests_in_this_thread), None
        except TransientError as error:
            return None, error

    def _deliver_operation(self, operation: str) -> bool:
        """Send one operation's rows batch by batch; False once the provider stays unavailable.

        The next batch is read and sent while the previous acknowledgement is committed, so
        the warehouse work overlaps the provider's answer time. State is still committed only
        for batches the provider acknowledged.
        """
        batch_size = self.destination.batch_size("remove" if operation == "remove" else "upsert")
        first, last = self.conn.execute("select min(seq), max(seq) from act_diff where operation = ?", [operation]).fetchall()[0]
        if first is None:
            return True
        bounds = [(start, min(start + batch_size, last + 1)) for start in range(first, last + 1, batch_size)]
        healthy = True
        in_flight: deque[tuple[int, int, Future]] = deque()
        with ThreadPoolExecutor(max_workers=PIPELINE_DEPTH, thread_name_prefix=f"sync-{self.sync.name}") as sender:
            for start, end in bounds:
                if not healthy:
                    break
                in_flight.append((start, end, sender.submit(self._send, operation, self._batch(operation, start, end))))
                if len(in_flight) == PIPELINE_DEPTH:
                    healthy = self._commit(operation, *in_flight.popleft()) and healthy
            # Batches already sent are committed even after a failure: what was acknowledged stays acknowledged.
            while in_flight:
                healthy = self._commit(operation, *in_flight.popleft()) and healthy
        return healthy

    def _commit(self, operation: str, start: int, end: int, future: Future) -> bool:
        results, error = future.result()
        count = end - start
        if error is not None:
            # Nothing of this batch is recorded as synced: the next run sends it again.
            results = [(Outcome(ok=False, error=str(error), status=error.status), error.attempts)] * count
            self.report.failed += count
            self.report.error = str(error)
        statuses = ["failed" if error is not None else ("ok" if o.ok else "rejected") for o, _ in results]
        self.report.ok += statuses.count("ok")
        if self.destination.async_upserts and operation != "remove":
            self.report.jobs_submitted += len({o.provider_id for (o, _), status in zip(results, statuses) if status == "ok" and o.provider_id})
        self.report.rejected += statuses.count("rejected")
        outcome = pa.table({
            "seq": pa.array(range(start, start + count), pa.int64()),
            "status": pa.array(statuses, pa.string()),
            "error": pa.array([o.error for o, _ in results], pa.string()),
            "http_status": pa.array([o.status for o, _ in results], pa.int32()),
            "attempts": pa.array([a for _, a in results], pa.int32()),
            "provider_id": pa.array([o.provider_id for o, _ in results], pa.string()),
        })
        self.conn.register("act_outcome", outcome)
        params = {"sync": self.sync.name, "now": utc_now(), "run": self.run_id}
        # A range filter lets DuckDB skip the rest of act_diff instead of scanning it per batch.
        batch = f"(select * from act_diff where seq >= {int(start)} and seq < {int(end)}) as"

        def work() -> None:
            conn = self.conn
            conn.execute(f"""
                insert into activation.sync_log
                select $run, $sync, d.record_key, d.operation, o.status, o.error, o.http_status, o.attempts, o.provider_id, $now
                from act_outcome o join {batch} d using (seq)
            """, params)
            if error is not None:
                return
            # ON CONFLICT goes through the primary key index; a join with the whole state
            # table would make every batch cost as much as everything synced so far.
            conn.execute(f"""
                insert into activation.sync_state
                select $sync, d.record_key, d.content_hash, d.payload, o.provider_id, $now, $now, $run
                from act_outcome o join {batch} d using (seq)
                where o.status = 'ok' and d.operation in ('add', 'change')
                on conflict (sync_name, record_key) do update set
                    content_hash = excluded.content_hash, payload = excluded.payload,
                    provider_id = coalesce(excluded.provider_id, sync_state.provider_id),
                    last_synced_at = excluded.last_synced_at, last_sync_run_id = excluded.last_sync_run_id
            """, params)
            if self.destination.async_upserts and operation != "remove":
                register_jobs(self, batch, params)
            if operation == "remove":
                conn.execute(f"""
                    delete from activation.sync_state where sync_name = $sync and record_key in
                    (select d.record_key from act_outcome o join {batch} d using (seq) where o.status = 'ok')
                """, {"sync": params["sync"]})
            if self.had_rejections:
                conn.execute(f"""
                    delete from activation.rejected_rows where sync_name = $sync and record_key in
                    (select d.record_key from act_outcome o join {batch} d using (seq) where o.status = 'ok')
                """, {"sync": params["sync"]})
            conn.execute(f"""
                insert or replace into activation.rejected_rows
                select $sync, d.record_key, coalesce(d.content_hash, ''), d.operation, o.error, o.http_status, $now, $run
                from act_outcome o join {batch} d using (seq) where o.status = 'rejected'
            """, params)

        try:
            self.engine._transaction(work)
        finally:
            self.conn.unregister("act_outcome")
        return error is None

    def _propagate_merges(self) -> None:
        """Move a merged-away person's profile to the winner where the provider allows it.

        Only when the winner is not synced yet: the profile keeps its history under the
        winner's key and the diff afterwards sends only what really differs. Otherwise the
        loser simply leaves the source and is removed like any other key (mirror mode).
        """
        merge_log = self.engine.config.merge_log
        if not merge_log or not relation_exists(self.conn, merge_log):
            return
        needed = {"loser_person_id", "winner_person_id", "merged_at"}
        if not needed <= set(relation_columns(self.conn, merge_log)):
            raise ConfigError(f"merge log {merge_log} needs columns {', '.join(sorted(needed))}")
        pairs = self.conn.execute(f"""
            with merges as (
                select cast(loser_person_id as varchar) as loser, cast(winner_person_id as varchar) as winner, merged_at
                from {merge_log}
            ),
            latest as (
                select * from merges qualify row_number() over (partition by loser order by merged_at desc) = 1
            ),
            movable as (
                select l.loser, l.winner, l.merged_at, cast(s.payload as varchar) as payload
                from latest l
                join activation.sync_state s on s.sync_name = $sync and s.record_key = l.loser
                where not exists (select 1 from activation.sync_state w where w.sync_name = $sync and w.record_key = l.winner)
                  and not exists (select 1 from activation.merge_state ms
                                  where ms.sync_name = $sync and ms.loser_person_id = l.loser and ms.winner_person_id = l.winner)
                -- two profiles merged into one winner: only the earliest moves, the other is removed as usual
                qualify row_number() over (partition by l.winner order by l.merged_at, l.loser) = 1
            )
            select loser, winner, merged_at, payload from movable order by merged_at, loser
        """, {"sync": self.sync.name}).fetchall()
        size = self.destination.batch_size("rekey")
        for start in range(0, len(pairs), size):
            chunk = pairs[start:start + size]
            records = [Record(key=loser, fields={}, previous=json.loads(payload), new_key=winner) for loser, winner, _, payload in chunk]
            results = deliver(lambda part: self.destination.rekey(part, self.sync), records, self.destination.http.requests_in_this_thread)
            now = utc_now()

            def work() -> None:
                for (loser, winner, merged_at, _), (outcome, attempts) in zip(chunk, results):
                    if outcome.ok:
                        self.conn.execute(
                            "update activation.sync_state set record_key = ?, last_sync_run_id = ? where sync_name = ? and record_key = ?",
                            [winner, self.run_id, self.sync.name, loser],
                        )
                    self.conn.execute(
                        "insert or replace into activation.merge_state values (?, ?, ?, ?, ?, ?, ?)",
                        [self.sync.name, loser, winner, merged_at, "moved" if outcome.ok else "not_moved", outcome.error, now],
                    )
                    self.conn.execute(
                        "insert into activation.sync_log values (?, ?, ?, 'merge', ?, ?, ?, ?, ?, ?)",
                        [self.run_id, self.sync.name, loser, "ok" if outcome.ok else "rejected", outcome.error, outcome.status, attempts, outcome.provider_id, now],
                    )

            self.engine._transaction(work)
            self.report.merges += sum(1 for outcome, _ in results if outcome.ok)


_LEDGER_SCHEMA = pa.schema([
    ("message_key", pa.string()), ("person_id", pa.string()), ("channel", pa.string()), ("journey", pa.string()),
    ("step", pa.string()), ("content_hash", pa.string()), ("recipient", pa.string()), ("status", pa.string()),
    ("provider_message_id", pa.string()), ("error", pa.string()), ("http_status", pa.int32()), ("attempts", pa.int32()),
])
_RECIPIENT_FIELD = {"email": "email", "sms": "phone", "whatsapp": "phone", "app_push": "push_token", "web_push": "push_token"}


class MessageSync(SyncRun):
    def run(self) -> None:
        self._candidates()
        if self.engine.dry_run:
            return
        self._reconcile()
        last = self.conn.execute("select coalesce(max(seq), 0) from act_messages").fetchall()[0][0]
        size = self.destination.batch_size("send")
        for start in range(1, last + 1, size):
            rows = self.conn.execute(
                "select message_key, person_id, channel, journey, step, cast(payload as varchar), content_hash "
                "from act_messages where seq >= ? and seq < ? order by seq", [start, start + size]
            ).fetchall()
            if not self._send_batch(rows):
                return

    def _candidates(self) -> None:
        sync, engine = self.sync, self.engine
        columns = set(relation_columns(self.conn, sync.source))
        missing = [c for c in (*_MESSAGE_COLUMNS, *sync.fields) if c not in columns]
        if missing:
            raise ConfigError(f"sync {sync.name!r}: {sync.source} lacks columns {', '.join(missing)}")
        join = sync.join
        extra = ""
        if join:
            join_columns = set(relation_columns(self.conn, join.relation)) if relation_exists(self.conn, join.relation) else set()
            absent = [c for c in (join.on, *join.columns) if c not in join_columns]
            if absent:
                raise ConfigError(f"sync {sync.name!r}: join relation {join.relation} lacks columns {', '.join(absent)}")
            extra = f"left join {join.relation} j on j.{quote(join.on)} = p.person_id"
        field_sources = [f"{quote(f)} := p.{quote(f)}" for f in sync.fields]
        field_sources += [f"{quote(c)} := j.{quote(c)}" for c in (join.columns if join else ())]
        payload = f"to_json(struct_pack({', '.join(field_sources)}))" if field_sources else "'{}'::json"
        # A pending row is repeated only where the provider deduplicates by our key.
        resend_pending = "true" if self.destination.idempotent_sends else "false"
        self.conn.execute(f"""
            create or replace temp table act_messages as
            with planned as (
                select cast(p.message_key as varchar) as message_key, cast(p.person_id as varchar) as person_id,
                       cast(p.channel as varchar) as channel, cast(p.journey as varchar) as journey, cast(p.step as varchar) as step,
                       {payload} as payload
                from {sync.source} p {extra}
                where p.status = 'planned' and p.send_after <= $now and p.channel in $channels and p.message_key is not null
            ),
            hashed as (select *, md5(cast(payload as varchar)) as content_hash from planned)
            select row_number() over (order by h.journey, h.step, h.message_key) as seq, h.*
            from hashed h left join {engine.send_ledger} l on l.message_key = h.message_key
            where l.message_key is null
               or l.status = 'failed'
               or (l.status = 'pending' and {resend_pending} and l.sync_name = $sync)
               or (l.status = 'rejected' and l.content_hash is distinct from h.content_hash)
        """, {"now": engine.now, "channels": list(sync.channels), "sync": sync.name})
        self.report.sends = self.conn.execute("select count(*) from act_messages").fetchall()[0][0]
        by_channel = self.conn.execute("select channel, count(*) from act_messages group by 1 order by 1").fetchall()
        self.report.sample = [f"send {n:,} {channel}" for channel, n in by_channel]
        self.report.sample += [
            f"send {key} ({journey}.{step}, {channel})"
            for key, journey, step, channel in self.conn.execute(
                "select message_key, journey, step, channel from act_messages order by seq limit ?", [SAMPLE_SIZE]
            ).fetchall()
        ]

    def _reconcile(self) -> None:
        """Pending sends left by an interrupted run that will not be repeated become unknown."""
        now = utc_now()
        stale = self.conn.execute("""
            select message_key, person_id, channel, journey, step, content_hash, null, 'unknown', provider_message_id,
                   'interrupted between the provider call and its record; not repeated (the provider takes no idempotency key)', http_status, attempts
            from activation.send_ledger l
            where sync_name = ? and status = 'pending' and message_key not in (select message_key from act_messages)
        """, [self.sync.name]).fetchall()
        if not stale:
            return
        rows = [dict(zip(_LEDGER_SCHEMA.names, r)) for r in stale]
        self._record_outcomes(rows, now)
        self.report.unknown += len(rows)

    def _send_batch(self, rows: list[tuple]) -> bool:
        """Send one batch under the ledger's protocol; False when the sync must stop."""
        messages, prepared, local = [], [], []
        for key, person_id, channel, journey, step, payload, content_hash in rows:
            fields = json.loads(payload)
            entry = {"message_key": key, "person_id": person_id, "channel": channel, "journey": journey, "step": step,
                     "content_hash": content_hash, "recipient": fields.get(_RECIPIENT_FIELD[channel]),
                     "status": "pending", "provider_message_id": None, "error": None, "http_status": None, "attempts": 1}
            missing = [c for c in self.destination.required_message_fields.get(channel, ()) if fields.get(c) in (None, "")]
            if missing:
                local.append(entry | {"status": "rejected", "error": f"no {', '.join(missing)} for this {channel} message", "attempts": 0})
                continue
            messages.append(Message(message_key=key, person_id=person_id, channel=channel, journey=journey, step=step, fields=fields))
            prepared.append(entry)
        now = utc_now()
        if local:
            self._record_outcomes(local, now)
            self.report.rejected += len(local)
        if not messages:
            return True
        self._record_intent(prepared, now)
        stop = False
        try:
            results = deliver(lambda part: self.destination.send(part, self.sync), messages, self.destination.http.requests_in_this_thread)
            for entry, (outcome, attempts) in zip(prepared, results):
                entry["attempts"] = attempts
                entry["provider_message_id"] = outcome.provider_id
                entry["error"] = outcome.error
                entry["http_status"] = outcome.status
                entry["status"] = "sent" if outcome.ok else ("skipped" if outcome.skipped else "rejected")
        except (AmbiguousError, TransientError) as error:
            status = "unknown" if isinstance(error, AmbiguousError) else "failed"
            for entry in prepared:
                entry.update(status=status, error=str(error), http_status=error.status, attempts=error.attempts)
            stop = isinstance(error, TransientError)
            self.report.error = str(error)
        self._record_outcomes(prepared, utc_now())
        for entry in prepared:
            counter = {"sent": "ok", "rejected": "rejected", "failed": "failed", "unknown": "unknown", "skipped": "skipped"}[entry["status"]]
            setattr(self.report, counter, getattr(self.report, counter) + 1)
        return not stop

    def _record_intent(self, entries: list[dict[str, Any]], now: datetime) -> None:
        self.engine._register("act_intent", entries, _LEDGER_SCHEMA)

        def work() -> None:
            self.conn.execute("""
                insert or replace into activation.send_ledger
                select i.message_key, $sync, $destination, i.person_id, i.channel, i.journey, i.step, i.content_hash, 'pending',
                       coalesce(l.attempts, 0) + 1, null, null, null, $now, null, $run
                from act_intent i left join activation.send_ledger l on l.message_key = i.message_key
            """, {"sync": self.sync.name, "destination": self.sync.destination, "now": now, "run": self.run_id})

        self.engine._transaction(work)
        self.conn.unregister("act_intent")

    def _record_outcomes(self, entries: list[dict[str, Any]], now: datetime) -> None:
        """Ledger outcome, per-row log and message events in one transaction."""
        self.engine._register("act_outcome", entries, _LEDGER_SCHEMA)
        params = {"sync": self.sync.name, "destination": self.sync.destination, "provider": self.destination.type_name, "now": now, "run": self.run_id}

        def work() -> None:
            conn = self.conn
            # A skipped message (e.g. no template configured yet) leaves no ledger row, so it goes out once fixed.
            conn.execute("delete from activation.send_ledger where message_key in (select message_key from act_outcome where status = 'skipped')")
            conn.execute("""
                insert or replace into activation.send_ledger
                select o.message_key, $sync, $destination, o.person_id, o.channel, o.journey, o.step, o.content_hash, o.status,
                       coalesce(l.attempts, o.attempts), o.provider_message_id, o.error, o.http_status,
                       coalesce(l.intent_at, $now), $now, $run
                from act_outcome o left join activation.send_ledger l on l.message_key = o.message_key
                where o.status <> 'skipped'
            """, {k: params[k] for k in ("sync", "destination", "now", "run")})
            conn.execute("""
                insert into activation.sync_log
                select $run, $sync, message_key, 'send', case status when 'sent' then 'ok' else status end, error, http_status, attempts,
                       provider_message_id, $now from act_outcome
            """, {k: params[k] for k in ("run", "sync", "now")})
            conn.execute("""
                insert into activation.message_events
                select md5(concat_ws('|', message_key, status, $run)), message_key, provider_message_id, $provider, $destination, channel,
                       person_id, recipient, journey, step, case status when 'rejected' then 'failed' else status end, $now, $run
                from act_outcome where status in ('sent', 'rejected', 'unknown')
            """, {k: params[k] for k in ("run", "provider", "destination", "now")})

        self.engine._transaction(work)
        self.conn.unregister("act_outcome")
