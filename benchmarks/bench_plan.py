"""The message plan at scale: the plan's compiled models on synthetic inputs of N persons.

    .venv/bin/python benchmarks/bench_plan.py            # 100,000 and 1,000,000 persons

Figures, not a test. The generated raw files (`cdp generate`) hold no consents, no
ledger and no message history, so the plan would suppress nearly everything before the
caps; instead the plan's inputs are generated directly in DuckDB with the shapes that
make the plan work: per person a profile with consents on several channels, audience
spells (a fifth lapsed, some at risk, new or near the next tier), a cart or a browse
for a few percent, recent purchases, tier upgrades and expiring points, and a week of
send history with engagement. The plan's models (compiled once by dbt, as the tests
do) then run in order and each one's time is printed; sizes grow tenfold, so the ratio
of the times says how the plan scales. CDP_BENCH_PLAN_PERSONS (comma-separated) sets the
sizes; CDP_BENCH_RUNS the runs per size (medians printed). The demo warehouse gives the
input tables their column types (built into CDP_BENCH_DIR on first use).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cdp.dbt_plugin import register_functions  # noqa: E402
from tests.journeys.plan_harness import AS_OF, INPUTS, PLAN_MODELS, SEEDS, compile_plan  # noqa: E402

WORK = Path(os.environ.get("CDP_BENCH_DIR", ROOT / "warehouse" / "bench-plan"))
SIZES = [int(n) for n in os.environ.get("CDP_BENCH_PLAN_PERSONS", "100000,1000000").split(",")]
RUNS = int(os.environ.get("CDP_BENCH_RUNS", "3"))
AS_OF_SQL = f"timestamp '{AS_OF.isoformat(sep=' ')}'"

# Each statement fills one input table from range(n) (persons are p0 .. p{n-1}).
GENERATORS = [
    """insert into marts.dim_persons (person_id, is_erased, email, phone, first_name, country_code, preferred_channel,
           open_support_tickets, loyalty_tier, points_balance,
           consent_email, consent_sms, consent_whatsapp, consent_app_push, consent_web_push,
           consent_transactional_email, consent_transactional_sms, consent_transactional_whatsapp,
           consent_transactional_app_push, consent_transactional_web_push)
       select 'p' || i, i % 200 = 0, 'p' || i || '@example.com',
              case when i % 3 = 0 then '+4479111' || lpad(cast(i % 100000 as varchar), 5, '0') end,
              'First' || i, case when i % 50 = 0 then 'US' when i % 7 = 0 then null else 'GB' end,
              case when i % 11 = 0 then 'whatsapp' when i % 13 = 0 then 'app_push' end, (i % 97 = 0)::int,
              'silver', i % 500,
              i % 10 < 6, i % 10 < 2, i % 10 = 1, i % 10 >= 7, i % 20 = 0, true, true, true, true, true
       from range({n}) t(i)""",
    """insert into marts.bdg_person_identifiers (person_id, identifier_type, identifier_value, first_seen_at,
           last_seen_at)
       select 'p' || i, 'push_token', 'token-' || i, {as_of} - interval 300 day, {as_of} - interval 3 day
       from range({n}) t(i) where i % 10 >= 6
       union all
       select 'p' || i, 'anonymous_id', 'anon-' || i, {as_of} - interval 300 day, {as_of} - interval 3 day
       from range({n}) t(i) where i % 2 = 0
       union all
       select 'p' || i, 'loyalty_card_id', 'L' || i, {as_of} - interval 300 day, {as_of} - interval 3 day
       from range({n}) t(i) where i % 20 = 0""",
    """insert into intermediate.int_person_ids_resolved (issued_person_id, current_person_id, shared_identifiers,
           is_merged_away)
       select 'p' || i, 'p' || i, 1, false from range({n}) t(i)""",
    """insert into marts.fct_audience_memberships (audience_name, person_id, entered_at)
       select 'lapsed_customers', 'p' || i, {as_of} - interval (i % 300) day from range({n}) t(i) where i % 5 = 0
       union all
       select 'at_risk_customers', 'p' || i, {as_of} - interval (i % 90) day from range({n}) t(i) where i % 5 = 1
       union all
       select 'new_signups', 'p' || i, {as_of} - interval (i % 144) hour from range({n}) t(i) where i % 100 = 2
       union all
       select 'near_next_tier', 'p' || i, {as_of} - interval (i % 20) day from range({n}) t(i) where i % 50 = 3""",
    """insert into staging.stg_web__events (web_event_id, event_type, product_id, occurred_at)
       select 'W' || i, 'add_to_cart', 'P00' || (i % 9 + 1), {as_of} - interval (2 + i % 60) hour
       from range({n}) t(i) where i % 33 = 4
       union all
       select 'V' || i, 'product_view', 'P00' || (i % 9 + 1), {as_of} - interval (2 + i % 40) hour
       from range({n}) t(i) where i % 25 = 6""",
    """insert into intermediate.int_identity_source_row_persons (source_row_id, source_model, source_key, person_id)
       select md5(web_event_id), 'stg_web__events', web_event_id, 'p' || cast(substr(web_event_id, 2) as bigint)
       from staging.stg_web__events""",
    """insert into marts.fct_purchases (purchase_id, person_id, channel, purchased_at, net_amount, gross_amount,
           returned_amount, is_fully_returned, order_id, receipt_id)
       select 'purchase-' || i, 'p' || i, case when i % 2 = 0 then 'store' else 'web' end,
              {as_of} - interval (i % 14) day - interval (i % 24) hour, 40, 40, 0, false,
              case when i % 2 = 1 then 'O' || i end, case when i % 2 = 0 then 'R' || i end
       from range({n}) t(i) where i % 10 = 5""",
    """insert into staging.stg_shop__orders (order_id, ordered_at, order_status)
       select order_id, purchased_at, 'delivered' from marts.fct_purchases where order_id is not null
       union all
       select 'O-fresh', {as_of} - interval 1 hour, 'placed'""",
    """insert into staging.stg_pos__transactions (receipt_id, store_id, transacted_at, transaction_type)
       select receipt_id, 'S01', purchased_at, 'sale' from marts.fct_purchases where receipt_id is not null
       union all
       select 'R-fresh', 'S01', {as_of} - interval 1 hour, 'sale'""",
    """insert into staging.stg_shop__order_lines (order_line_id, order_id, line_number, product_id, quantity)
       select md5(order_id), order_id, 1, 'P00' || (length(order_id) % 9 + 1), 1
       from marts.fct_purchases where order_id is not null""",
    """insert into staging.stg_pos__transaction_lines (pos_line_id, receipt_id, line_number, product_id, quantity)
       select md5(receipt_id), receipt_id, 1, 'P00' || (length(receipt_id) % 9 + 1), 1
       from marts.fct_purchases where receipt_id is not null""",
    """insert into staging.stg_app__events (app_event_id, event_type, occurred_at)
       select 'A-fresh', 'app_open', {as_of} - interval 1 hour""",
    """insert into staging.stg_loyalty__point_entries (loyalty_point_entry_id, loyalty_card_id, points, reason,
           occurred_at, expires_at)
       select 'E' || i, 'L' || i, 100 + i % 200, 'purchase', {as_of} - interval (340 + i % 25) day,
              {as_of} + interval (25 - i % 25) day
       from range({n}) t(i) where i % 20 = 0""",
    """insert into marts.fct_loyalty_tier_changes (tier_change_id, person_id, change_direction, to_tier, changed_at)
       select 'T' || i, 'p' || i, 'upgrade', 'gold', {as_of} - interval (i % 20) day
       from range({n}) t(i) where i % 200 = 7""",
    """insert into marts.fct_message_events (message_event_id, event_source, source_event_id, message_key, message_id,
           channel, person_id, journey, step, event_type, occurred_at)
       select 'S' || i, 'activation', 'S' || i, md5('history' || i), 'M' || i, 'email', 'p' || i,
              'newsletter', 1, 'sent', {as_of} - interval (i % 7) day - interval 3 hour
       from range({n}) t(i) where i % 3 = 0
       union all
       select 'O' || i, 'provider_report', 'O' || i, null, 'M' || i, 'email', 'p' || i,
              null, null, 'opened', {as_of} - interval (i % 7) day - interval 2 hour
       from range({n}) t(i) where i % 6 = 0""",
]


def demo_warehouse() -> Path:
    """A built demo warehouse for the input tables' column types."""
    path = WORK / "demo" / "cdp.duckdb"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        environment = os.environ | {"CDP_WAREHOUSE": str(path)}
        subprocess.run([sys.executable, "-m", "cdp.cli", "build"], cwd=ROOT, env=environment, check=True)
    return path


def inputs(path: Path, schema_source: Path, persons: int) -> None:
    if path.exists():
        path.unlink()
    with duckdb.connect(str(path)) as conn:
        conn.execute(f"attach '{schema_source}' as schema_source (read_only)")
        for schema in ("marts", "intermediate", "staging", "config"):
            conn.execute(f"create schema {schema}")
        for schema, tables in INPUTS.items():
            for table in tables:
                conn.execute(f"create table {schema}.{table} as select * from schema_source.{schema}.{table} limit 0")
        for seed in SEEDS:
            conn.execute(f"create table config.{seed} as select * from schema_source.config.{seed}")
        for statement in GENERATORS:
            conn.execute(statement.format(n=persons, as_of=AS_OF_SQL))


def run(path: Path, compiled: dict[str, str]) -> tuple[dict[str, float], int, int]:
    """Seconds per model; candidates; planned messages."""
    seconds = {}
    with duckdb.connect(str(path)) as conn:
        register_functions(conn)
        conn.execute("set TimeZone = 'UTC'")
        for schema, model in PLAN_MODELS:
            conn.execute(f"drop table if exists {schema}.{model}")
            sql = compiled[model].replace('"cdp".', "")
            started = time.perf_counter()
            conn.execute(f"create table {schema}.{model} as {sql}")
            seconds[model] = time.perf_counter() - started
        (candidates,) = conn.execute("select count(*) from marts.fct_message_plan").fetchone()
        (planned,) = conn.execute("select count(*) from marts.fct_message_plan where status = 'planned'").fetchone()
    return seconds, candidates, planned


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    compiled = compile_plan(WORK / "target", WORK / "cdp.duckdb", {})
    schema_source = demo_warehouse()
    results = {}
    for persons in SIZES:
        path = WORK / f"plan-{persons}.duckdb"
        inputs(path, schema_source, persons)
        runs = [run(path, compiled) for _ in range(RUNS)]
        results[persons] = ({m: median(r[0][m] for r in runs) for _, m in PLAN_MODELS}, runs[0][1], runs[0][2])
    print(f"message plan, median of {RUNS} runs (seconds per model)")
    header = f"{'model':<34}" + "".join(f"{n:>14,}" for n in SIZES)
    print(header)
    for _, model in PLAN_MODELS:
        print(f"{model:<34}" + "".join(f"{results[n][0][model]:>14.2f}" for n in SIZES))
    print(f"{'total':<34}" + "".join(f"{sum(results[n][0].values()):>14.2f}" for n in SIZES))
    print(f"{'candidate messages':<34}" + "".join(f"{results[n][1]:>14,}" for n in SIZES))
    print(f"{'planned':<34}" + "".join(f"{results[n][2]:>14,}" for n in SIZES))
    if len(SIZES) > 1:
        first, last = SIZES[0], SIZES[-1]
        ratio = sum(results[last][0].values()) / sum(results[first][0].values())
        print(f"time ratio {last:,} / {first:,} persons: {ratio:.1f}x for {last / first:.0f}x the persons")


if __name__ == "__main__":
    main()
