"""Erasure: a row of raw `erasure_requests` removes the person's personal data from the warehouse.

The person is every identifier the previous build's identity graph links to the
request's subject, plus the subject itself. Erasing them means, in one step of
`cdp build` (before any dbt stage, so every model is rebuilt without them):

* a keyed hash (HMAC-SHA256 with the erasure salt) of each identifier goes to
  `privacy.erased_identifiers`, the person ids to `privacy.erased_persons` (read by
  activation to delete the person at the providers); nothing else of the person is kept;
* every raw row carrying one of the identifiers is dropped and recorded in
  `raw.cdp_load_issues` as `erased_subject`, with its file and row number but no value;
* the rows of the person in tables that dbt does not rebuild (incremental models: the
  person-id log, purchases collected, membership log, decision log) are deleted;
* activation's message events, sync log and rejected rows of the person are deleted
  and the send ledger keeps only keys and outcomes (activation/state.py does it).

The raw loader drops the rows of erased identifiers at every later load (the retailer's
files may still hold them), so a person is not resurrected by the next file; a consent
granted after the erasure for an identifier lifts it for that identifier.

A request whose subject the previous build did not know (a first build, or a subject
that arrives in the same files) waits for the next build, so that the graph can say
who the person is; meanwhile `dim_persons.is_erased` keeps everything from being sent.

Hand-written: the identity graph, the loader and activation state are the project's own;
no library erases a person across them (DECISIONLOG.md).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from cdp.contract import LOAD_ISSUES_TABLE
from cdp.paths import project_dir
from cdp.phones import to_e164
from cdp.project_vars import project_var

SCHEMA = "privacy"
OUTPUT_SOURCE = "cdp_privacy"
SALT_ENV = "CDP_ERASURE_SALT"
ERASED_SUBJECT = "erased_subject"
RAW_SCHEMA = "raw"
# Schemas the erasure step does not scan for derived rows: raw is filtered row by row,
# activation belongs to activation/state.py, privacy holds the hashes.
_OWN_SCHEMAS = {RAW_SCHEMA, "activation", SCHEMA, "information_schema", "pg_catalog"}

# Raw columns that hold an identifier, and the identity graph's type for it. Every raw
# table with personal data has at least one of them (tests/privacy checks the contract).
IDENTIFIER_COLUMNS = {
    "customer_id": "crm_customer_id",
    "email": "email",
    "phone": "phone",
    "loyalty_card_id": "loyalty_card_id",
    "anonymous_id": "anonymous_id",
    "device_id": "device_id",
    "push_token": "push_token",
    "payment_fingerprint": "payment_fingerprint",
}
# Raw columns whose identifier type another column of the row names.
SUBJECT_COLUMNS = {"subject_value": "subject_type", "recipient": "channel"}
# Raw tables whose rows belong to a row of another table (by its key) and carry no
# identifier themselves: they go with the row they belong to.
CHILD_TABLES = {"order_lines": ("orders", "order_id"), "pos_lines": ("pos_transactions", "receipt_id")}
# A privacy subject_type that the graph names differently.
SUBJECT_TYPES = {"customer_id": "crm_customer_id"}
# Columns of derived tables that hold a person id or an identifier value (as models name them).
PERSON_ID_COLUMNS = ("person_id", "previous_person_id", "merged_into_person_id", "loser_person_id", "winner_person_id")
VALUE_COLUMNS = (
    *sorted(set(IDENTIFIER_COLUMNS.values())),
    "identifier_value",
    "subject_value",
    "recipient",
    "link_identifier_value_a",
    "link_identifier_value_b",
)
NODE_KEY_COLUMNS = ("node_key", "merge_link_node_key_a", "merge_link_node_key_b")


class ErasureError(ValueError):
    """Erasure cannot go ahead (a configuration error: `cdp` prints it as one line); the message says why."""


# ---------------------------------------------------------------------------- identifiers
@cache
def _channel_address_types() -> dict[str, str | None]:
    from activation.channels import read_channels

    registry = read_channels(project_dir() / "dbt_project.yml")
    return {channel.channel: channel.address_field for channel in registry.channels}


def identifier_type_of(column: str, kind: str | None) -> str | None:
    """The identifier type of raw ``column`` in a row whose subject_type or channel is ``kind``."""
    if column in IDENTIFIER_COLUMNS:
        return IDENTIFIER_COLUMNS[column]
    if column == "subject_value":
        kind = (kind or "").strip(" ").lower()
        return SUBJECT_TYPES.get(kind, kind) or None
    if column == "recipient":
        return _channel_address_types().get((kind or "").strip(" ").lower())
    return None


def normalized(identifier_type: str | None, text: str | None, region: str | None = None) -> str | None:
    """``text`` as staging normalises an identifier of ``identifier_type`` (cdp_normalize_identifier)."""
    if text is None or identifier_type is None:
        return None
    value = text.strip(" ")
    if not value:
        return None
    if identifier_type == "email":
        return value.lower()
    if identifier_type == "phone":
        return to_e164(value.lower().replace("whatsapp:", ""), region or project_var("cdp__default_phone_region"))
    return value


@dataclass(frozen=True)
class Salt:
    value: bytes
    source: str  # "env" or "warehouse"

    def digest(self, value: str) -> str:
        return hmac.new(self.value, value.encode("utf-8"), hashlib.sha256).hexdigest()

    @property
    def check(self) -> str:
        # Recorded with the hashes, so that hashes made under another salt are noticed.
        return self.digest("cdp erasure salt check")


def _ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(f"create schema if not exists {SCHEMA}")
    conn.execute(
        f"create table if not exists {SCHEMA}.erasure_salt (salt varchar, salt_source varchar, salt_check varchar)"
    )
    conn.execute(
        f"create table if not exists {SCHEMA}.erased_identifiers "
        "(identifier_hash varchar primary key, identifier_type varchar not null, erased_at timestamp not null)"
    )
    conn.execute(
        f"create table if not exists {SCHEMA}.erased_persons "
        "(person_id varchar primary key, is_erased boolean not null, erased_at timestamp not null)"
    )
    conn.execute(
        f"create table if not exists {SCHEMA}.erasure_requests_seen "
        "(request_hash varchar primary key, status varchar not null, first_seen_at timestamp not null, "
        "erased_at timestamp)"
    )
    conn.execute(
        f"create table if not exists {SCHEMA}.erasure_log "
        "(erased_at timestamp not null, persons bigint not null, table_name varchar not null, "
        "rows_removed bigint not null, file_rewritten boolean not null default false)"
    )


def _salt(conn: duckdb.DuckDBPyConnection, create: bool) -> Salt | None:
    """The erasure salt: CDP_ERASURE_SALT, else the warehouse's own (made on first use)."""
    recorded = conn.execute(f"select salt, salt_source, salt_check from {SCHEMA}.erasure_salt").fetchall()
    from_env = os.environ.get(SALT_ENV)
    if from_env:
        salt = Salt(from_env.encode("utf-8"), "env")
    elif recorded and recorded[0][0]:
        salt = Salt(bytes.fromhex(recorded[0][0]), "warehouse")
    elif create:
        salt = Salt(secrets.token_bytes(32), "warehouse")
    else:
        return None
    if recorded and recorded[0][2] != salt.check:
        raise ErasureError(
            f"the erasure salt differs from the one the erased identifiers were hashed with "
            f"(recorded: {recorded[0][1]}, now: {salt.source}); set {SALT_ENV} back to the value it had"
        )
    if not recorded and create:
        stored = salt.value.hex() if salt.source == "warehouse" else None
        conn.execute(f"insert into {SCHEMA}.erasure_salt values (?, ?, ?)", [stored, salt.source, salt.check])
    return salt


@dataclass
class ErasedSet:
    """The hashes of erased identifiers and when each was erased."""

    salt: Salt
    erased_at: dict[str, datetime]
    # Hashes whose identifier was given consent after its erasure: loaded again.
    lifted: set[str] = field(default_factory=set)

    def blocks(self, digest: str) -> bool:
        return digest in self.erased_at and digest not in self.lifted

    def hashes_of(self, identifier_type: str | None, text: str | None, region: str | None) -> list[str]:
        # A phone is read in the row's country and in the default region: staging reads
        # some sources in one and some in the other, and either may be how it was stored.
        values = {normalized(identifier_type, text, region)}
        if identifier_type == "phone":
            values.add(normalized(identifier_type, text, None))
        return [self.salt.digest(value) for value in values if value]


def _read_erased(conn: duckdb.DuckDBPyConnection) -> ErasedSet | None:
    if not conn.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = 'erased_identifiers'",
        [SCHEMA],
    ).fetchone()[0]:
        return None
    rows = conn.execute(f"select identifier_hash, erased_at from {SCHEMA}.erased_identifiers").fetchall()
    if not rows:
        return None
    salt = _salt(conn, create=False)
    if salt is None:
        raise ErasureError(f"{SCHEMA}.erased_identifiers has hashes but no salt is recorded; set {SALT_ENV}")
    return ErasedSet(salt=salt, erased_at=dict(rows))


def _parse_time(text: str | None) -> datetime | None:
    try:
        moment = datetime.fromisoformat((text or "").strip(" "))
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _lift_by_consent(erased: ErasedSet, consents: pa.Table | None) -> None:
    """A consent granted after an identifier's erasure lifts it (that identifier only)."""
    if consents is None or not consents.num_rows:
        return
    for row in consents.select(["subject_type", "subject_value", "status", "recorded_at"]).to_pylist():
        if (row["status"] or "").strip(" ").lower() != "granted":
            continue
        recorded_at = _parse_time(row["recorded_at"])
        identifier_type = identifier_type_of("subject_value", row["subject_type"])
        for digest in erased.hashes_of(identifier_type, row["subject_value"], None):
            if recorded_at and digest in erased.erased_at and recorded_at > erased.erased_at[digest]:
                erased.lifted.add(digest)


def _erased_row_mask(table: pa.Table, erased: ErasedSet) -> list[bool]:
    columns = [c for c in table.column_names if c in IDENTIFIER_COLUMNS or c in SUBJECT_COLUMNS]
    if not columns or not table.num_rows:
        return [False] * table.num_rows
    data = {c: table.column(c).to_pylist() for c in {*columns, *SUBJECT_COLUMNS.values()} if c in table.column_names}
    regions = table.column("country").to_pylist() if "country" in table.column_names else [None] * table.num_rows
    mask = []
    for index in range(table.num_rows):
        region = (regions[index] or "").strip(" ").upper() or None
        hit = False
        for column in columns:
            kind = data[SUBJECT_COLUMNS[column]][index] if column in SUBJECT_COLUMNS else None
            identifier_type = identifier_type_of(column, kind)
            if any(erased.blocks(d) for d in erased.hashes_of(identifier_type, data[column][index], region)):
                hit = True
                break
        mask.append(hit)
    return mask


def _issue_text_is_erased(text: str | None, erased: ErasedSet) -> bool:
    """A line that could not be split may still hold an erased value: each of its fields is tried."""
    for token in (text or "").split(","):
        token = token.strip(' "\r\n')
        for identifier_type in ("email", "phone", "crm_customer_id"):
            if any(erased.blocks(d) for d in erased.hashes_of(identifier_type, token, None)):
                return True
    return False


def drop_erased_rows(tables: dict[str, pa.Table], erased: ErasedSet | None) -> tuple[dict[str, pa.Table], int]:
    """``tables`` (raw tables by name, with cdp_load_issues) without the rows of erased identifiers.

    Each dropped row is recorded in cdp_load_issues as `erased_subject` with its table,
    file and row number only; an unsplittable line holding an erased value loses its
    text the same way. Returns the tables and how many rows were dropped.
    """
    if erased is None:
        return tables, 0
    _lift_by_consent(erased, tables.get("consents"))
    issues = tables[LOAD_ISSUES_TABLE].to_pylist()
    for issue in issues:
        if _issue_text_is_erased(issue["raw_text"], erased):
            issue.update(reason=ERASED_SUBJECT, raw_text=None)
    kept: dict[str, pa.Table] = {}
    dropped = 0
    gone_keys: dict[str, set] = {}
    # Parents first, so that a child table knows which of its rows went with them.
    for name, table in sorted(tables.items(), key=lambda item: item[0] in CHILD_TABLES):
        if name == LOAD_ISSUES_TABLE:
            continue
        mask = _erased_row_mask(table, erased)
        if name in CHILD_TABLES and CHILD_TABLES[name][1] in table.column_names:
            parent, key = CHILD_TABLES[name]
            keys = gone_keys.get(parent, set())
            mask = [hit or value in keys for hit, value in zip(mask, table.column(key).to_pylist(), strict=True)]
        if any(mask):
            gone = table.filter(pa.array(mask))
            files, rows = gone.column("_cdp_source_file").to_pylist(), gone.column("_cdp_source_row").to_pylist()
            issues += [
                {"source_table": name, "source_file": f, "source_line": r, "reason": ERASED_SUBJECT, "raw_text": None}
                for f, r in zip(files, rows, strict=True)
            ]
            dropped += gone.num_rows
            for parent, key in CHILD_TABLES.values():
                if parent == name and key in gone.column_names:
                    gone_keys[parent] = set(gone.column(key).to_pylist())
            table = table.filter(pa.array([not hit for hit in mask]))
        kept[name] = table
    for number, issue in enumerate(issues, start=1):
        issue["issue_number"] = number
    kept[LOAD_ISSUES_TABLE] = pa.Table.from_pylist(issues, schema=tables[LOAD_ISSUES_TABLE].schema)
    return kept, dropped


def erased_set_of(warehouse) -> ErasedSet | None:
    """The erased identifiers of ``warehouse`` (a cdp.warehouse.Warehouse) for the raw loader; None if none."""
    from cdp.warehouse import DuckDBWarehouse

    if not isinstance(warehouse, DuckDBWarehouse):
        return None  # erasure runs on DuckDB only (docs/privacy.md)
    return _read_erased(warehouse.conn)


# ---------------------------------------------------------------------------- the step
@dataclass
class ErasureReport:
    persons: int = 0
    deferred: int = 0
    rows_removed: dict[str, int] = field(default_factory=dict)


@dataclass
class _Request:
    digest: str
    identifier_type: str
    value: str
    requested_at: str | None


def _relation_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, table]
        ).fetchone()[0]
    )


def _requests(conn: duckdb.DuckDBPyConnection, salt: Salt) -> list[_Request]:
    if not _relation_exists(conn, RAW_SCHEMA, "erasure_requests"):
        return []
    requests = []
    for subject_type, subject_value, requested_at in conn.execute(
        f"select subject_type, subject_value, requested_at from {RAW_SCHEMA}.erasure_requests"
    ).fetchall():
        identifier_type = identifier_type_of("subject_value", subject_type)
        value = normalized(identifier_type, subject_value)
        if value is None:
            continue  # staging quarantines it (invalid_subject_value) and says why
        digest = salt.digest(f"request\x00{identifier_type}\x00{value}\x00{(requested_at or '').strip(' ')}")
        requests.append(_Request(digest, identifier_type, value, requested_at))
    return requests


def _person_of(conn: duckdb.DuckDBPyConnection, request: _Request) -> tuple[set[str], set[tuple[str, str]]]:
    """The person ids and (type, value) identifiers the previous build's graph links to the request."""
    identifiers = {(request.identifier_type, request.value)}
    if not _relation_exists(conn, "marts", "bdg_person_identifiers"):
        return set(), identifiers
    rows = conn.execute(
        """
        select person_id, identifier_type, identifier_value
        from marts.bdg_person_identifiers
        where person_id in (
            select person_id from marts.bdg_person_identifiers where identifier_type = ? and identifier_value = ?
        )
        """,
        [request.identifier_type, request.value],
    ).fetchall()
    return {person for person, _, _ in rows}, identifiers | {(t, v) for _, t, v in rows}


def _raw_tables(conn: duckdb.DuckDBPyConnection) -> dict[str, pa.Table]:
    names = [
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = ? and table_type = 'BASE TABLE'",
            [RAW_SCHEMA],
        ).fetchall()
    ]
    return {name: conn.sql(f'select * from {RAW_SCHEMA}."{name}"').to_arrow_table() for name in names}


def _purge_raw(conn: duckdb.DuckDBPyConnection, erased: ErasedSet, report: ErasureReport) -> None:
    tables = _raw_tables(conn)
    if LOAD_ISSUES_TABLE not in tables:
        return
    kept, _ = drop_erased_rows(tables, erased)
    for name, table in kept.items():
        removed = tables[name].num_rows - table.num_rows
        if removed or name == LOAD_ISSUES_TABLE:
            if removed > 0:
                report.rows_removed[f"{RAW_SCHEMA}.{name}"] = removed
            conn.register("erasure_kept", table)
            conn.execute(f'create or replace table {RAW_SCHEMA}."{name}" as select * from erasure_kept')
            conn.unregister("erasure_kept")


def _purge_derived(
    conn: duckdb.DuckDBPyConnection, persons: set[str], identifiers: set[tuple[str, str]], report: ErasureReport
) -> None:
    """Delete the person's rows from every other table: incremental models keep rows across
    builds, and any other table is rebuilt from raw anyway."""
    values = sorted({value for _, value in identifiers})
    node_keys = sorted({f"{kind}:{value}" for kind, value in identifiers})
    person_ids = sorted(persons)
    tables = conn.execute(
        "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE' "
        "and table_schema not in (select unnest(?::varchar[]))",
        [sorted(_OWN_SCHEMAS)],
    ).fetchall()
    for schema, table in tables:
        columns = {
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns where table_schema = ? and table_name = ?",
                [schema, table],
            ).fetchall()
        }
        conditions, parameters = [], []
        for group, wanted in ((PERSON_ID_COLUMNS, person_ids), (VALUE_COLUMNS, values), (NODE_KEY_COLUMNS, node_keys)):
            for column in sorted(columns & set(group)):
                if wanted:
                    conditions.append(f'cast("{column}" as varchar) in (select unnest(?::varchar[]))')
                    parameters.append(wanted)
        if not conditions:
            continue
        removed = conn.execute(
            f'delete from {schema}."{table}" where {" or ".join(conditions)}', parameters
        ).fetchone()[0]
        if removed:
            report.rows_removed[f"{schema}.{table}"] = report.rows_removed.get(f"{schema}.{table}", 0) + removed


def erase_requested_persons(warehouse: Path, as_of: datetime) -> ErasureReport:
    """Apply every erasure request of ``warehouse``'s raw tables that was not applied yet."""
    report = ErasureReport()
    persons: set[str] = set()
    identifiers: set[tuple[str, str]] = set()
    unknown_subjects = 0  # requests applied to their own identifier: no graph knew a person
    with duckdb.connect(str(warehouse)) as conn:
        _ensure_schema(conn)
        salt = _salt(conn, create=True)
        seen = dict(conn.execute(f"select request_hash, status from {SCHEMA}.erasure_requests_seen").fetchall())
        for request in _requests(conn, salt):
            if seen.get(request.digest) == "erased":
                continue
            found, linked = _person_of(conn, request)
            if not found and request.digest not in seen:
                # The graph has not seen the subject yet: the next build will know who it is.
                conn.execute(
                    f"insert into {SCHEMA}.erasure_requests_seen values (?, 'deferred', ?, null)",
                    [request.digest, as_of],
                )
                seen[request.digest] = "deferred"
                report.deferred += 1
                continue
            conn.execute(
                f"insert or replace into {SCHEMA}.erasure_requests_seen values "
                f"(?, 'erased', coalesce((select first_seen_at from {SCHEMA}.erasure_requests_seen "
                "where request_hash = ?), ?), ?)",
                [request.digest, request.digest, as_of, as_of],
            )
            seen[request.digest] = "erased"
            persons |= found
            identifiers |= linked
            unknown_subjects += not found
        report.persons = len(persons) + unknown_subjects
        if not identifiers:
            return report
        conn.executemany(
            f"insert or replace into {SCHEMA}.erased_identifiers values (?, ?, ?)",
            [[salt.digest(value), kind, as_of] for kind, value in sorted(identifiers)],
        )
        if persons:
            conn.executemany(
                f"insert or replace into {SCHEMA}.erased_persons values (?, true, ?)",
                [[person, as_of] for person in sorted(persons)],
            )
        erased = _read_erased(conn)
        _purge_raw(conn, erased, report)
        _purge_derived(conn, persons, identifiers, report)
    from activation.state import open_state

    with open_state(warehouse, read_only=False) as store:
        for table, removed in store.erase_persons(sorted(persons), sorted({v for _, v in identifiers})).items():
            if removed:
                report.rows_removed[f"activation.{table}"] = removed
    with duckdb.connect(str(warehouse)) as conn:
        conn.executemany(
            f"insert into {SCHEMA}.erasure_log values (?, ?, ?, ?, false)",
            [[as_of, report.persons, table, removed] for table, removed in sorted(report.rows_removed.items())]
            or [[as_of, report.persons, "(none)", 0]],
        )
    return report


def run_erasure_step(as_of: datetime, target: str | None) -> ErasureReport | None:
    """The build step: apply new erasure requests (DuckDB; on Spark the persons are only flagged)."""
    if target == "spark":
        return None
    from cdp.paths import warehouse_path

    return erase_requested_persons(warehouse_path(), as_of)


def rewrite_after_erasure(warehouse: Path) -> bool:
    """Rewrite ``warehouse`` into a new file when an erasure happened since the last rewrite.

    Deleted and replaced rows stay in the file's free blocks until DuckDB reuses them
    (CHECKPOINT does not overwrite them): the dbt stages after the erasure step replace
    every table that held the person, so the old blocks would keep their values. A copy
    holds only live data. Returns whether the file was rewritten.
    """
    with duckdb.connect(str(warehouse)) as conn:
        if not _relation_exists(conn, SCHEMA, "erasure_log"):
            return False
        if not conn.execute(f"select count(*) from {SCHEMA}.erasure_log where not file_rewritten").fetchone()[0]:
            return False
        conn.execute(f"update {SCHEMA}.erasure_log set file_rewritten = true")
    rewrite_warehouse(warehouse)
    return True


def rewrite_warehouse(warehouse: Path) -> None:
    """Copy ``warehouse`` (every schema, table, view and macro) into a new file and put it in its place."""
    fresh = warehouse.with_name(warehouse.name + ".rewrite")
    fresh.unlink(missing_ok=True)
    with duckdb.connect(str(warehouse)) as conn:
        source = conn.execute("select current_database()").fetchone()[0]
        conn.execute(f"attach '{fresh}' as cdp_rewrite")
        conn.execute(f'copy from database "{source}" to cdp_rewrite')
        conn.execute("detach cdp_rewrite")
    os.replace(fresh, warehouse)


# ---------------------------------------------------------------------------- reporting
def summary_lines(warehouse) -> list[str]:
    """The erasure lines of the build report: persons erased and rows removed per table (the latest
    erasure), and requests waiting for the next build. Counts only."""
    from cdp.warehouse import DuckDBWarehouse

    if not isinstance(warehouse, DuckDBWarehouse):
        return ["Erasure: not applied on Spark (erased persons are flagged and excluded; their data stays)"]
    if "erasure_log" not in warehouse.tables(SCHEMA):
        return []
    lines = []
    (deferred,) = warehouse.query(f"select count(*) from {SCHEMA}.erasure_requests_seen where status = 'deferred'")[0]
    if deferred:
        lines.append(
            f"Erasure: {deferred:,} request(s) wait for the next build (their subject was not in the previous "
            "build's identity graph); the persons are flagged is_erased meanwhile"
        )
    rows = warehouse.query(
        f"select erased_at, persons, table_name, rows_removed from {SCHEMA}.erasure_log "
        f"where erased_at = (select max(erased_at) from {SCHEMA}.erasure_log) order by table_name"
    )
    if not rows:
        return lines
    lines.append(f"Erasure as of {rows[0][0].isoformat()}: {rows[0][1]:,} persons erased; rows removed per table:")
    lines += [f"  {table:<48}{removed:>8,}" for _, _, table, removed in rows if table != "(none)"] or ["  none"]
    return lines
