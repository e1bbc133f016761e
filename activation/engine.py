"""The sync engine: the two protocols, state sync and message send, step by step.

One run holds the warehouse's write connection for a whole `cdp sync` (DuckDB takes one
writer at a time); a dry run reads through a read-only connection and writes nothing.
Every statement on the warehouse is an operation of activation.state.StateStore.

State syncs: the source's rows are hashed and compared with what this sync last
acknowledged; adds, changes (only the changed fields where the provider takes partial
updates) and, in mirror mode, removes of keys this sync itself synced are delivered
batch by batch, and each acknowledged batch is committed while the next one is sent. A
batch the provider rejects as a whole is split until the bad rows are isolated; those
are rejected until their content changes.

Message syncs: planned messages whose send_after has passed and that the send ledger
has not seen are sent once. The ledger rows of a request are committed as `pending`
before the call and updated after it. A `pending` row found at the start of a run is a
send interrupted between the call and the commit: where the provider deduplicates by our
key it is sent again with the same key; where the provider can be asked (Twilio's message
list) it is looked up and closed as sent, or sent now if the provider has no such
message; otherwise it is marked `unknown` and never repeated.
"""

from __future__ import annotations

import logging
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from activation.config_schema import ActivationConfig, SyncConfig
from activation.destinations import destination_class
from activation.destinations.base import Destination, Message, Outcome, Record
from activation.errors import ConfigError
from activation.http import AmbiguousError, DeliveryError, PermanentError, TransientError
from activation.jobs import check_jobs
from activation.progress import NO_PROGRESS, Progress, Tracker, track
from activation.report import SyncReport
from activation.state import Candidate, MergeOutcome, RowOutcome, Send, StateStore, open_state, utc_now

__all__ = ["SyncReport", "build_destinations", "run_syncs"]

# Batches of a state sync on the wire at once. The token bucket still sets the pace; two in
# flight let one request's round trip overlap the next one's preparation and the previous
# one's commit. A crash re-sends at most this many batches (upserts are idempotent).
PIPELINE_DEPTH = 2
# Statuses that say the request is wrong for every row (credentials, endpoint, method):
# splitting the batch would only repeat the same answer, so the sync stops instead.
_NOT_ROW_SPECIFIC = {401, 403, 404, 405}
_MESSAGE_COLUMNS = ("message_key", "person_id", "journey", "step", "channel", "send_after", "status", "plan_built_at")
_SEND_COUNTERS = {
    "sent": "ok",
    "rejected": "rejected",
    "failed": "failed",
    "unknown": "unknown",
    "skipped": "skipped",
    "cancelled": "cancelled",
}
CONSENT_REVOKED = "consent_revoked_before_send"

log = logging.getLogger(__name__)


def _phone_kinds(registry) -> list[str]:
    """The consent subject types whose value is a phone: `phone` and every channel addressed by one."""
    return ["phone", *(c for c in registry.names if registry[c].address_field == "phone")]


class SyncAborted(Exception):
    """The destination refused in a way no row can fix; the message is safe to print."""


def build_destinations(config: ActivationConfig) -> dict[str, Destination]:
    return {name: destination_class(c.type)(c, config.channels) for name, c in config.destinations.items()}


def run_syncs(
    warehouse: Path,
    config: ActivationConfig,
    destination: str | None = None,
    dry_run: bool = False,
    force: bool = False,
    now: datetime | None = None,
    destinations: dict[str, Destination] | None = None,
    consents_file: Path | None = None,
    phone_to_e164: Callable[[str], str | None] | None = None,
    progress: Progress = NO_PROGRESS,
) -> list[SyncReport]:
    """Run the configured syncs (or one destination's) against the DuckDB file ``warehouse``.

    ``now`` decides which messages are due (default: the current time); ``force`` lets a
    sync remove more than its max_remove_share; ``destinations`` replaces the destinations
    built from ``config`` (tests record their requests). ``consents_file`` is a file of
    consent events recorded since the build (else consents.new_events_file), read just
    before sending; ``phone_to_e164`` is the project's phone normalisation, which new
    consent events need; ``progress`` shows each sync's rows sent as its batches are
    acknowledged (activation.progress). One report per sync, in order.
    """
    syncs = config.syncs_for(destination)
    if not Path(warehouse).exists():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist; run `cdp build` first")
    destinations = destinations or build_destinations(config)
    for sync in syncs:
        destinations[sync.destination].check_sync(sync)
    with open_state(Path(warehouse), read_only=dry_run) as store:
        if not dry_run:
            store.mark_interrupted_runs(utc_now())
        configured = config.consents.new_events_file
        engine = SyncEngine(
            store,
            config,
            dry_run=dry_run,
            force=force,
            now=now or utc_now(),
            consents_file=consents_file or (Path(configured) if configured else None),
            phone_to_e164=phone_to_e164,
            progress=progress,
        )
        return [engine.run(sync, destinations[sync.destination]) for sync in syncs]


class SyncEngine:
    """The syncs of one `cdp sync`: one report per sync, its run recorded in sync_runs."""

    def __init__(
        self,
        store: StateStore,
        config: ActivationConfig,
        dry_run: bool,
        force: bool,
        now: datetime,
        consents_file: Path | None = None,
        phone_to_e164: Callable[[str], str | None] | None = None,
        progress: Progress = NO_PROGRESS,
    ):
        self.store, self.config, self.dry_run, self.force, self.now = store, config, dry_run, force, now
        self.consents_file, self.phone_to_e164, self.progress = consents_file, phone_to_e164, progress

    def run(self, sync: SyncConfig, destination: Destination) -> SyncReport:
        report = SyncReport(sync=sync.name, destination=sync.destination, kind=sync.kind, mode=sync.mode)
        if not self.store.relation_exists(sync.source):
            report.status = "skipped"
            report.error = f"source {sync.source} does not exist yet (build its dbt model first)"
            return report
        run_id = uuid.uuid4().hex
        requests_before, throttled_before = destination.http.stats.requests, destination.http.stats.throttled
        if not self.dry_run:
            self.store.start_run(run_id, sync, self.now)
        try:
            if not self.dry_run:
                destination.prepare()
            protocol = StateSync if sync.kind == "state" else MessageSync
            protocol(self, sync, destination, run_id, report).run()
            if report.status == "running":
                report.status = "dry_run" if self.dry_run else report.finished_status()
        except (SyncAborted, ConfigError, TransientError, PermanentError, duckdb.Error) as error:
            report.status = "failed"
            report.error = str(error)
        report.http_requests = destination.http.stats.requests - requests_before
        report.http_throttled = destination.http.stats.throttled - throttled_before
        if not self.dry_run:
            self.store.finish_run(run_id, report, utc_now())
        return report


def deliver(
    call: Callable[[list[Any]], list[Outcome]], rows: list[Any], counter: Callable[[], int]
) -> list[tuple[Outcome, int]]:
    """Deliver rows; on a whole-request 4xx split the batch until each bad row stands alone.

    Returns (outcome, requests made for the part that carried the row) per row, in order.
    """
    before = counter()
    try:
        outcomes = call(rows)
    except PermanentError as error:
        if error.status in _NOT_ROW_SPECIFIC:
            raise SyncAborted(
                f"{error} (a credentials, endpoint or configuration problem, not a row problem)"
            ) from None
        if len(rows) == 1:
            return [(Outcome(ok=False, error=error.detail or str(error), status=error.status), counter() - before)]
        middle = len(rows) // 2
        return deliver(call, rows[:middle], counter) + deliver(call, rows[middle:], counter)
    if len(outcomes) != len(rows):
        raise SyncAborted(f"destination answered {len(outcomes)} outcomes for {len(rows)} rows")
    spent = counter() - before
    return [(o, spent) for o in outcomes]


class SyncRun:
    """One run of one sync: what both protocols share."""

    def __init__(self, engine: SyncEngine, sync: SyncConfig, destination: Destination, run_id: str, report: SyncReport):
        self.store, self.dry_run = engine.store, engine.dry_run
        self.engine, self.sync, self.destination, self.run_id, self.report = engine, sync, destination, run_id, report

    def _require_columns(self, relation: str, columns: tuple[str, ...], what: str) -> None:
        present = set(self.store.relation_columns(relation)) if self.store.relation_exists(relation) else set()
        missing = [c for c in columns if c not in present]
        if missing:
            raise ConfigError(f"sync {self.sync.name!r}: {what} {relation} lacks columns {', '.join(missing)}")

    def _track(self, total: int) -> AbstractContextManager[Tracker]:
        return track(f"sync {self.sync.name}", total, log, self.engine.progress)


class StateSync(SyncRun):
    def run(self) -> None:
        follow_jobs = self.destination.async_upserts and not self.dry_run
        if follow_jobs:
            # Before the diff: a row a finished job failed must not count as synced.
            self._check_jobs(wait=False)
        if not self.dry_run and self.sync.key == "person_id":
            self._erase()
        self._load_source()
        if self.sync.consent_channels:
            self._check_member_consents()
        if not self.dry_run and self.destination.supports_rekey and self.sync.key == "person_id":
            self._propagate_merges()
        self._diff()
        self._guard()
        if self.report.status == "refused" or self.dry_run:
            return
        with self._track(self.report.adds + self.report.changes + self.report.removes) as self.sent:
            for operation in ("add", "change", "remove"):
                if not self._deliver_operation(operation):
                    break
        if follow_jobs:
            self._check_jobs(wait=True)

    def _erase(self) -> None:
        """Erased persons leave this sync's state for provider_deletions, and each pending
        deletion is requested through the destination's own operation (delete_person)."""
        destination = self.destination
        for erased in self.engine.config.erasures:
            if not self.store.relation_exists(erased):
                continue
            if not {"person_id", "is_erased"} <= set(self.store.relation_columns(erased)):
                raise ConfigError(f"erasures relation {erased} needs columns person_id and is_erased")
            self.store.capture_erasures(
                self.sync, erased, destination.deletion_fields, destination.deletes_persons, utc_now()
            )
        if not destination.deletes_persons:
            return
        for key, address in self.store.pending_deletions(self.sync):
            try:
                note = destination.delete_person(key, address)
            except DeliveryError as error:
                self.store.record_deletion(self.sync, key, False, str(error), utc_now())
                self.report.deletions_pending += 1
                self.report.error = f"provider deletions stopped (retried next run): {error}"
                if isinstance(error, TransientError):
                    return
                continue
            self.store.record_deletion(self.sync, key, True, note, utc_now())
            self.report.deletions_done += 1

    def _check_member_consents(self) -> None:
        """Re-read the latest marketing consents of the sync's rows before the diff
        (StateStore.apply_member_consents): a person who revoked since the build leaves the list."""
        engine, registry = self.engine, self.engine.config.channels
        if self.sync.key != "person_id":
            raise ConfigError(f"sync {self.sync.name!r}: consent_channels need the sync keyed by person_id")
        fields = {
            channel: registry[channel].consent_column if registry[channel].consent_column in self.sync.fields else None
            for channel in self.sync.consent_channels
        }
        phone_kinds = _phone_kinds(registry)
        check = self.store.apply_member_consents(
            engine.config.consents, fields, phone_kinds, engine.consents_file, engine.phone_to_e164
        )
        if check is not None:
            self.report.sample.append(
                f"consents checked at sync time: {check.revoked:,} persons left the list since the build"
            )

    def _check_jobs(self, wait: bool) -> None:
        check_jobs(self.store, self.sync, self.destination, self.run_id, self.report, wait=wait)

    def _load_source(self) -> None:
        sync = self.sync
        self._require_columns(sync.source, (sync.key, *sync.fields), "source")
        rows = self.store.load_source(sync)
        self.report.invalid = rows.invalid
        if rows.duplicate_keys:
            raise ConfigError(
                f"sync {sync.name!r}: {rows.duplicate_keys} keys appear more than once in {sync.source}; "
                f"a sync model has one row per {sync.key}"
            )

    def _diff(self) -> None:
        diff = self.store.diff(self.sync)
        self.report.adds, self.report.changes, self.report.removes = (
            diff.counts.get(operation, 0) for operation in ("add", "change", "remove")
        )
        self.report.managed = diff.managed
        self.has_rejections = diff.has_rejections
        for operation, key, changed_fields in diff.sample:
            detail = f" ({', '.join(changed_fields)})" if changed_fields else ""
            self.report.sample.append(f"{operation} {key}{detail}")

    def _guard(self) -> None:
        report, share = self.report, self.sync.max_remove_share
        if report.removes and report.managed and report.removes > share * report.managed and not self.engine.force:
            report.status = "refused"
            report.error = (
                f"would remove {report.removes:,} of {report.managed:,} synced keys "
                f"({report.removes / report.managed:.0%}), more than max_remove_share {share:.0%}; "
                "check the source or rerun with --force"
            )

    def _batch(self, operation: str, start: int, end: int) -> list[Record]:
        records = []
        for row in self.store.diff_rows(operation, start, end):
            fields = row.payload or {}
            if operation == "change" and self.destination.partial_updates:
                fields = {f: fields.get(f) for f in row.changed_fields}
            records.append(Record(key=row.key, fields=fields, previous=row.previous))
        return records

    def _send(
        self, operation: str, records: list[Record]
    ) -> tuple[list[tuple[Outcome, int]] | None, TransientError | None]:
        call = self.destination.remove if operation == "remove" else self.destination.upsert
        try:
            results = deliver(
                lambda part: call(part, self.sync), records, self.destination.http.requests_in_this_thread
            )
        except TransientError as error:
            return None, error
        return results, None

    def _deliver_operation(self, operation: str) -> bool:
        """Send one operation's rows batch by batch; False once the provider stays unavailable.

        The next batch is read and sent while the previous acknowledgement is committed, so
        the warehouse work overlaps the provider's answer time. State is still committed only
        for batches the provider acknowledged.
        """
        span = self.store.operation_range(operation)
        if span is None:
            return True
        first, last = span
        batch_size = self.destination.batch_size("remove" if operation == "remove" else "upsert")
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
        outcomes = [
            RowOutcome(
                status="failed" if error is not None else ("ok" if outcome.ok else "rejected"),
                error=outcome.error,
                http_status=outcome.status,
                attempts=attempts,
                provider_id=outcome.provider_id,
            )
            for outcome, attempts in results
        ]
        self.report.ok += sum(o.status == "ok" for o in outcomes)
        self.report.rejected += sum(o.status == "rejected" for o in outcomes)
        tracks_jobs = self.destination.async_upserts
        if tracks_jobs and operation != "remove":
            self.report.jobs_submitted += len({o.provider_id for o in outcomes if o.status == "ok" and o.provider_id})
        self.store.record_batch(
            self.sync,
            self.run_id,
            operation,
            start,
            outcomes,
            delivered=error is None,
            tracks_jobs=tracks_jobs,
            clears_rejections=self.has_rejections,
            now=utc_now(),
        )
        if error is None:
            self.sent.advance(count)
        return error is None

    def _propagate_merges(self) -> None:
        """Move a merged-away person's profile to the winner where the provider allows it.

        Only when the winner is not synced yet: the profile keeps its history under the
        winner's key and the diff afterwards sends only what really differs. Otherwise the
        loser simply leaves the source and is removed like any other key (mirror mode).
        """
        merge_log = self.engine.config.merge_log
        if not merge_log or not self.store.relation_exists(merge_log):
            return
        needed = {"loser_person_id", "winner_person_id", "merged_at"}
        if not needed <= set(self.store.relation_columns(merge_log)):
            raise ConfigError(f"merge log {merge_log} needs columns {', '.join(sorted(needed))}")
        pairs = self.store.movable_merges(self.sync, merge_log)
        size = self.destination.batch_size("rekey")
        for start in range(0, len(pairs), size):
            chunk = pairs[start : start + size]
            records = [
                Record(key=loser, fields={}, previous=payload, new_key=winner) for loser, winner, _, payload in chunk
            ]
            results = deliver(
                lambda part: self.destination.rekey(part, self.sync),
                records,
                self.destination.http.requests_in_this_thread,
            )
            merges = [
                MergeOutcome(
                    loser=loser,
                    winner=winner,
                    merged_at=merged_at,
                    moved=outcome.ok,
                    error=outcome.error,
                    http_status=outcome.status,
                    attempts=attempts,
                    provider_id=outcome.provider_id,
                )
                for (loser, winner, merged_at, _), (outcome, attempts) in zip(chunk, results, strict=True)
            ]
            self.store.record_merges(self.sync, self.run_id, merges, utc_now())
            self.report.merges += sum(1 for merge in merges if merge.moved)


class MessageSync(SyncRun):
    def run(self) -> None:
        self._candidates()
        if self._plan_too_old():
            return
        self._check_consents()
        if self.dry_run:
            return
        self._reconcile()
        size = self.destination.batch_size("send")
        with self._track(self.report.sends) as sent:
            for start in range(1, self.report.sends + 1, size):
                rows = self.store.candidates(start, start + size)
                if not self._send_batch(rows):
                    return
                sent.advance(len(rows))

    def _candidates(self) -> None:
        sync = self.sync
        self._require_columns(sync.source, (*_MESSAGE_COLUMNS, *sync.fields), "source")
        if sync.join:
            self._require_columns(sync.join.relation, (sync.join.on, *sync.join.columns), "join relation")
        # A pending row is taken up again only where the provider deduplicates by our key or can be asked.
        resend_pending = self.destination.idempotent_sends or self.destination.looks_up_sends
        self.has_purpose = "purpose" in self.store.relation_columns(sync.source)
        candidates = self.store.load_candidates(
            sync, self.engine.now, resend_pending=resend_pending, has_purpose=self.has_purpose
        )
        self.report.sends = candidates.total
        self.report.sample = [f"send {n:,} {channel}" for channel, n in candidates.by_channel]
        self.report.sample += [
            f"send {key} ({journey}.{step}, {channel})" for key, journey, step, channel in candidates.sample
        ]

    def _check_consents(self) -> None:
        """Re-read the latest consents just before sending (StateStore.apply_consents): a message
        whose person revoked consent for its channel and purpose since the plan is cancelled."""
        engine, consents = self.engine, self.engine.config.consents
        new_events = engine.consents_file is not None or consents.new_events_relation is not None
        if not self.has_purpose:
            if new_events:
                raise ConfigError(
                    f"sync {self.sync.name!r}: source {self.sync.source} has no purpose column, "
                    "which checking consents at send time needs"
                )
            return
        registry = engine.config.channels
        phone_kinds = _phone_kinds(registry)
        check = self.store.apply_consents(
            consents, list(self.sync.channels), phone_kinds, engine.consents_file, engine.phone_to_e164
        )
        if check is None:
            return
        summary = f"consents checked at send time: {check.revoked:,} messages revoked since the plan"
        if new_events:
            summary += f"; {check.new_events:,} new consent events, {check.unresolved:,} of unknown subjects"
        self.report.sample.append(summary)

    def _plan_too_old(self) -> bool:
        """A plan older than max_plan_age_hours may send what is no longer true (a goal met, consent revoked)."""
        built_at = self.store.plan_built_at(self.sync.source)
        limit = self.engine.config.max_plan_age_hours
        if built_at is None or (self.engine.now - built_at).total_seconds() <= limit * 3600:
            return False
        self.report.status = "refused"
        self.report.error = (
            f"the plan in {self.sync.source} was built at {built_at:%Y-%m-%d %H:%M} UTC, more than max_plan_age_hours "
            f"({limit:g}) before now ({self.engine.now:%Y-%m-%d %H:%M} UTC); run `cdp build` first"
        )
        return True

    def _reconcile(self) -> None:
        """Pending sends left by an interrupted run that will not be repeated become unknown."""
        stale = self.store.interrupted_sends(self.sync)
        if stale:
            self._record_outcomes(stale)

    def _recipient_field(self, channel: str) -> str | None:
        """The field holding the address the message goes to: what the destination requires for
        the channel (FCM addresses web push by token too), else the registry's address field."""
        required = self.destination.required_message_fields.get(channel)
        return required[0] if required else self.engine.config.channels[channel].address_field

    def _send_batch(self, rows: list[Candidate]) -> bool:
        """Send one batch under the ledger's protocol; False when the sync must stop."""
        messages, prepared, local = [], [], []
        for row in rows:
            key, person_id, channel, fields = row.message_key, row.person_id, row.channel, row.fields
            journey, step = row.journey, row.step
            recipient_field = self._recipient_field(channel)
            send = Send(
                message_key=key,
                person_id=person_id,
                channel=channel,
                journey=journey,
                step=step,
                content_hash=row.content_hash,
                recipient=fields.get(recipient_field) if recipient_field else None,
                status="pending",
            )
            send.under(row.consent)
            revoked = row.consent is not None and row.consent.status == "revoked"
            # An interrupted send may have gone out before the revocation: asked first where the provider can be.
            if revoked and not (row.pending_since is not None and self.destination.looks_up_sends):
                send.status, send.attempts, send.error = "cancelled", 0, CONSENT_REVOKED
                local.append(send)
                continue
            required = self.destination.required_message_fields.get(channel, ())
            missing = [c for c in required if fields.get(c) in (None, "")]
            if missing:
                send.status, send.attempts = "rejected", 0
                send.error = f"no {', '.join(missing)} for this {channel} message"
                local.append(send)
                continue
            message = Message(key, person_id, channel, journey, step, fields)
            if row.pending_since is not None and self.destination.looks_up_sends:
                asked, provider_id = self._look_up(message, row.pending_since)
                if not asked:  # stays pending, asked again next run
                    self.report.unknown += 1
                    continue
                if provider_id is not None:  # it went out before the crash: closed as sent, not repeated
                    send.status, send.provider_message_id = "sent", provider_id
                    local.append(send)
                    continue
                if revoked:
                    send.status, send.attempts, send.error = "cancelled", 0, CONSENT_REVOKED
                    local.append(send)
                    continue
            messages.append(message)
            prepared.append(send)
        if local:
            self._record_outcomes(local)
        if not messages:
            return True
        self.store.record_intent(self.sync, self.run_id, prepared, utc_now())
        stop = False
        try:
            results = deliver(
                lambda part: self.destination.send(part, self.sync),
                messages,
                self.destination.http.requests_in_this_thread,
            )
            for send, (outcome, attempts) in zip(prepared, results, strict=True):
                send.attempts, send.provider_message_id = attempts, outcome.provider_id
                send.error, send.http_status = outcome.error, outcome.status
                send.status = "sent" if outcome.ok else ("skipped" if outcome.skipped else "rejected")
        except (AmbiguousError, TransientError) as error:
            for send in prepared:
                send.status = "unknown" if isinstance(error, AmbiguousError) else "failed"
                send.error, send.http_status, send.attempts = str(error), error.status, error.attempts
            stop = isinstance(error, TransientError)
            self.report.error = str(error)
        self._record_outcomes(prepared)
        return not stop

    def _look_up(self, message: Message, pending_since: datetime) -> tuple[bool, str | None]:
        """Ask the provider whether an interrupted send went out: (asked, its id if found).

        Not found means it never reached the provider, so it is sent now."""
        try:
            return True, self.destination.find_sent(message, pending_since)
        except DeliveryError as error:
            self.report.error = f"could not ask whether interrupted sends went out (asked again next run): {error}"
            return False, None

    def _record_outcomes(self, sends: list[Send]) -> None:
        self.store.record_outcomes(self.sync, self.destination.type_name, self.run_id, sends, utc_now())
        for send in sends:
            counter = _SEND_COUNTERS[send.status]
            setattr(self.report, counter, getattr(self.report, counter) + 1)
