"""The message plan compiled once by dbt and run on small fixture inputs in DuckDB.

Building the warehouse to test one planning rule takes a minute; running the plan's
compiled SQL on a handful of fixture rows takes a second or two. `compile_plan` runs
`dbt compile` on the plan's models (int_journey_*, int_person_* of the plan,
int_message_candidates, fct_message_plan) for one set of vars; `PlanInputs` holds the
rows of everything those models read (empty tables with the demo warehouse's column
types, plus the seeds), and `run_plan` executes the compiled models in order and
returns what fct_message_plan holds. The same harness serves property tests: build
inputs, run, check an invariant.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import duckdb

from cdp.dbt_plugin import register_functions
from cdp.paths import project_dir

AS_OF = datetime(2026, 11, 20, 9, 0)  # a Friday; London is on GMT (UTC+0) then
# The plan's models, in build order.
PLAN_MODELS = (
    ("intermediate", "int_person_site_events"),
    ("intermediate", "int_journey_carts"),
    ("intermediate", "int_journey_browse_sessions"),
    ("intermediate", "int_journey_purchased_products"),
    ("marts", "fct_person_recommendations"),
    ("intermediate", "int_journey_purchases"),
    ("intermediate", "int_journey_points_lots"),
    ("intermediate", "int_journey_source_freshness"),
    ("intermediate", "int_person_stores"),
    ("intermediate", "int_person_time_zones"),
    ("intermediate", "int_person_channel_reachability"),
    ("intermediate", "int_journey_occurrences"),
    ("intermediate", "int_message_candidates"),
    ("marts", "fct_message_plan"),
)
# What they read, by schema; the seeds are copied whole.
INPUTS = {
    "marts": (
        "bdg_person_identifiers",
        "dim_persons",
        "fct_audience_memberships",
        "fct_loyalty_tier_changes",
        "fct_message_events",
        "fct_purchases",
    ),
    "intermediate": ("int_identity_source_row_persons", "int_person_ids_resolved"),
    "staging": (
        "stg_app__events",
        "stg_catalog__stores",
        "stg_loyalty__point_entries",
        "stg_pos__transaction_lines",
        "stg_pos__transactions",
        "stg_privacy__consents",
        "stg_shop__order_lines",
        "stg_shop__orders",
        "stg_surveys__responses",
        "stg_web__events",
    ),
}
SEEDS = ("country_time_zones", "calling_code_countries")
CHANNELS = ("email", "sms", "whatsapp", "app_push", "web_push")


def surrogate_key(*values: object) -> str:
    """cdp_surrogate_key in Python: md5 of the values joined by '|', nulls as a marker."""
    return hashlib.md5("|".join("_cdp_null_" if v is None else str(v) for v in values).encode()).hexdigest()


def hash_bucket(text: str) -> int:
    """cdp_hash_bucket in Python: the first 32 bits of the md5, modulo 10,000."""
    return int(hashlib.md5(text.encode()).hexdigest()[:8], 16) % 10000


def compile_plan(
    target_dir: Path, warehouse: Path, dbt_vars: dict, models: tuple[tuple[str, str], ...] = PLAN_MODELS
) -> dict[str, str]:
    """The compiled SQL of ``models`` (default: the plan's) for ``dbt_vars`` (cdp__as_of defaults to AS_OF)."""
    dbt_vars = {"cdp__as_of": AS_OF.isoformat(sep=" "), **dbt_vars}
    root = project_dir()
    command = [
        sys.executable,
        "-m",
        "cdp.dbt_entry",
        "compile",
        "--quiet",
        "--indirect-selection",
        "empty",
        "--select",
        " ".join(name for _, name in models),
        "--vars",
        json.dumps(dbt_vars),
        "--target-path",
        str(target_dir),
        "--project-dir",
        str(root),
        "--profiles-dir",
        str(root),
    ]
    environment = os.environ | {"CDP_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    result = subprocess.run(command, cwd=root, env=environment, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"dbt compile failed:\n{result.stdout[-4000:]}{result.stderr[-4000:]}")
    compiled = {}
    for path in (target_dir / "compiled").rglob("*.sql"):
        compiled[path.stem] = path.read_text()
    missing = [name for _, name in models if name not in compiled]
    if missing:
        raise RuntimeError(f"dbt compile wrote no SQL for {', '.join(missing)}")
    return compiled


@dataclass
class PlanInputs:
    """Rows of the plan's inputs, added through helpers that fill what a story needs."""

    rows: dict[tuple[str, str], list[dict]] = field(default_factory=lambda: defaultdict(list))
    _counter: int = 0

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter:04d}"

    def add(self, schema: str, table: str, **row) -> dict:
        self.rows[(schema, table)].append(row)
        return row

    def person(self, person_id: str, *, marketing: tuple[str, ...] = (), **attributes) -> str:
        """A dim_persons row: consented to marketing on `marketing`, transactional consent on every
        channel (the project's default), in GB, not erased, no open ticket, unless `attributes` say otherwise."""
        row = {
            "person_id": person_id,
            "is_erased": False,
            "country_code": "GB",
            "open_support_tickets": 0,
            "first_name": person_id.title(),
        }
        for channel in CHANNELS:
            row[f"consent_{channel}"] = channel in marketing
            row[f"consent_transactional_{channel}"] = True
        row.update(attributes)
        self.add("marts", "dim_persons", **row)
        return person_id

    def identifier(self, person_id: str, identifier_type: str, value: str) -> None:
        self.add(
            "marts",
            "bdg_person_identifiers",
            person_id=person_id,
            identifier_type=identifier_type,
            identifier_value=value,
            first_seen_at=AS_OF - timedelta(days=100),
            last_seen_at=AS_OF - timedelta(days=1),
        )

    def whatsapp_opt_in(self, phone: str, recorded_at: datetime) -> None:
        """A marketing opt-in for WhatsApp on ``phone`` (WhatsApp needs its own, docs/activation.md)."""
        self.add(
            "staging",
            "stg_privacy__consents",
            subject_type="phone",
            subject_value=phone,
            channel="whatsapp",
            purpose="marketing",
            consent_status="granted",
            recorded_at=recorded_at,
        )

    def member(self, audience: str, person_id: str, entered_at: datetime) -> str:
        """Puts the person in `audience` and returns the occurrence key of its journeys."""
        self.add(
            "marts", "fct_audience_memberships", audience_name=audience, person_id=person_id, entered_at=entered_at
        )
        return f"audience|{audience}|{entered_at.isoformat(sep=' ')}"

    def web_event(self, person_id: str, event_type: str, occurred_at: datetime, product_id: str | None = None) -> None:
        event_id = self._id("W")
        self.add(
            "staging",
            "stg_web__events",
            web_event_id=event_id,
            event_type=event_type,
            product_id=product_id,
            occurred_at=occurred_at,
        )
        self._source_row("stg_web__events", event_id, person_id)

    def app_event(self, person_id: str, event_type: str, occurred_at: datetime, **columns) -> None:
        event_id = self._id("A")
        self.add(
            "staging",
            "stg_app__events",
            app_event_id=event_id,
            event_type=event_type,
            occurred_at=occurred_at,
            **columns,
        )
        self._source_row("stg_app__events", event_id, person_id)

    def _source_row(self, model: str, key: str, person_id: str) -> None:
        self.add(
            "intermediate",
            "int_identity_source_row_persons",
            source_row_id=surrogate_key(model, key),
            source_model=model,
            source_key=key,
            person_id=person_id,
        )

    def purchase(
        self,
        person_id: str,
        purchased_at: datetime,
        products: tuple[str, ...],
        channel: str = "store",
        order_status: str = "delivered",
        store_id: str = "S01",
    ) -> str:
        """A purchase in fct_purchases with its lines (a store receipt, or an online order)."""
        purchase_id = self._id("purchase")
        if channel == "store":
            receipt_id = purchase_id
            self.add(
                "staging",
                "stg_pos__transactions",
                receipt_id=receipt_id,
                store_id=store_id,
                transacted_at=purchased_at,
                transaction_type="sale",
            )
            for number, product in enumerate(products, 1):
                self.add(
                    "staging",
                    "stg_pos__transaction_lines",
                    pos_line_id=surrogate_key(receipt_id, number),
                    receipt_id=receipt_id,
                    line_number=number,
                    product_id=product,
                    quantity=1,
                )
            order_id = None
        else:
            order_id, receipt_id = purchase_id, None
            self.add(
                "staging", "stg_shop__orders", order_id=order_id, ordered_at=purchased_at, order_status=order_status
            )
            for number, product in enumerate(products, 1):
                self.add(
                    "staging",
                    "stg_shop__order_lines",
                    order_line_id=surrogate_key(order_id, number),
                    order_id=order_id,
                    line_number=number,
                    product_id=product,
                    quantity=1,
                )
        self.add(
            "marts",
            "fct_purchases",
            purchase_id=purchase_id,
            person_id=person_id,
            channel=channel,
            purchased_at=purchased_at,
            net_amount=10,
            gross_amount=10,
            returned_amount=0,
            is_fully_returned=False,
            order_id=order_id,
            receipt_id=receipt_id,
        )
        return purchase_id

    def sent(
        self,
        person_id: str,
        journey: str,
        occurrence_key: str,
        step: int,
        occurred_at: datetime,
        channel: str = "email",
        message_id: str | None = None,
        recorded_person_id: str | None = None,
    ) -> str:
        """Activation's record of a send; the key is the plan's (under `recorded_person_id` if merged since)."""
        message_key = surrogate_key(recorded_person_id or person_id, journey, occurrence_key, step)
        self.add(
            "marts",
            "fct_message_events",
            message_event_id=self._id("event"),
            event_source="activation",
            source_event_id=self._id("source"),
            message_key=message_key,
            message_id=message_id,
            provider="stand-in",
            channel=channel,
            person_id=person_id,
            campaign=journey,
            journey=journey,
            step=step,
            event_type="sent",
            occurred_at=occurred_at,
        )
        return message_key

    def engaged(self, person_id: str, channel: str, message_id: str | None, occurred_at: datetime) -> None:
        self.add(
            "marts",
            "fct_message_events",
            message_event_id=self._id("event"),
            event_source="provider_report",
            source_event_id=self._id("source"),
            message_id=message_id,
            provider="stand-in",
            channel=channel,
            person_id=person_id,
            event_type="opened",
            occurred_at=occurred_at,
        )

    def fresh_sources(self, **newest: datetime) -> None:
        """A row in every source table of cdp__source_freshness, an hour old unless `newest` names another time."""
        for source, (table, column, extra) in _FRESHNESS_ROWS.items():
            self.add("staging", table, **{column: newest.get(source, AS_OF - timedelta(hours=1)), **extra})


# A row that makes a source table fresh and means nothing to any journey.
_FRESHNESS_ROWS = {
    "web_events": ("stg_web__events", "occurred_at", {"event_type": "page_view"}),
    "app_events": ("stg_app__events", "occurred_at", {"event_type": "app_open"}),
    "orders": ("stg_shop__orders", "ordered_at", {"order_status": "placed"}),
    "pos_transactions": ("stg_pos__transactions", "transacted_at", {"transaction_type": "sale"}),
    "loyalty_points": ("stg_loyalty__point_entries", "occurred_at", {"points": 1, "reason": "bonus"}),
}


@dataclass
class PlanResult:
    rows: list[dict]
    tables: dict[str, list[dict]]

    def of(self, person_id: str, journey: str | None = None) -> list[dict]:
        return sorted(
            (r for r in self.rows if r["person_id"] == person_id and journey in (None, r["journey"])),
            key=lambda r: (r["journey"], r["occurrence_key"], r["step"]),
        )

    def one(self, person_id: str, journey: str, step: int = 1) -> dict:
        (row,) = [r for r in self.of(person_id, journey) if r["step"] == step]
        return row


def run_plan(compiled: dict[str, str], schema_warehouse: Path, inputs: PlanInputs) -> PlanResult:
    """Run the compiled plan models on ``inputs``; tables take their column types from ``schema_warehouse``."""
    conn = duckdb.connect()
    try:
        register_functions(conn)
        conn.execute("set TimeZone = 'UTC'")
        conn.execute(f"attach '{schema_warehouse}' as schema_source (read_only)")
        conn.execute("attach ':memory:' as cdp")
        conn.execute("use cdp")
        for schema in ("marts", "intermediate", "staging", "config"):
            conn.execute(f"create schema if not exists cdp.{schema}")
        for schema, tables in INPUTS.items():
            for table in tables:
                conn.execute(
                    f"create table cdp.{schema}.{table} as select * from schema_source.{schema}.{table} limit 0"
                )
        for seed in SEEDS:
            conn.execute(f"create table cdp.config.{seed} as select * from schema_source.config.{seed}")
        for (schema, table), rows in inputs.rows.items():
            for row in rows:
                columns = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                conn.execute(f"insert into cdp.{schema}.{table} ({columns}) values ({marks})", list(row.values()))
        conn.execute("detach schema_source")
        tables = {}
        for schema, model in PLAN_MODELS:
            conn.execute(f"create table cdp.{schema}.{model} as {compiled[model]}")
            cursor = conn.execute(f"select * from cdp.{schema}.{model}")
            names = [column[0] for column in cursor.description]
            tables[model] = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
        return PlanResult(rows=tables["fct_message_plan"], tables=tables)
    finally:
        conn.close()
