"""`make bench-identity`: the identity graph's connected components beside scipy's.

Figures, not a test: for each graph, the wall time, rounds and peak memory of the
project's SQL connected components (the macro behind the `cdp_connected_components`
materialization, run with `dbt run-operation` on DuckDB, identifier encoding included)
and of scipy.sparse.csgraph.connected_components on the same edges (with its own
encoding of the text keys to integers by pandas.factorize), and whether the two
partitions are identical.

Graphs: the identifier pairs of `cdp generate --persons 1000000` (the links the default
link rules make, on raw values); a chain of 10,000 nodes whose ids increase along the
chain; and a junk-hub graph (a few identifiers shared by tens of thousands of people,
as a store's own phone would be without the guardrails).

Each contender runs in its own process, so peak memory (max RSS) is its own. The SQL
time is the macro's own (encoding, rounds, result table), measured inside dbt; the wall
time of the whole `dbt run-operation` (start-up and parsing included) is shown beside it.
Each graph is measured CDP_BENCH_RUNS times (default 3); each run times both contenders
back to back, and the figures printed are medians.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from statistics import median

import duckdb

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(os.environ.get("CDP_BENCH_DIR", ROOT / "warehouse" / "bench"))
WAREHOUSE = WORK / "components.duckdb"
PERSONS = int(os.environ.get("CDP_BENCH_PERSONS", "1000000"))
# The machine is shared and timings wander: several runs, medians reported.
RUNS = int(os.environ.get("CDP_BENCH_RUNS", "3"))


def _peak_mb() -> float:
    """This process's peak resident memory (VmHWM: unlike ru_maxrss it is not inherited across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_sql_worker(edges_table: str) -> dict:
    """In this process: dbt run-operation cdp_connected_components_of on one edge table."""
    from dbt.cli.main import dbtRunner

    os.environ["CDP_WAREHOUSE"] = str(WAREHOUSE)
    # (perf_counter, words after the colon) of the macro's log lines: "started", then
    # "<rounds> rounds". dbt calls back synchronously, so their interval is the macro's time.
    reported: list[tuple[float, list[str]]] = []

    def on_event(event) -> None:
        message = event.info.msg
        if isinstance(message, str) and message.startswith("cdp_connected_components_of:"):
            reported.append((time.perf_counter(), message.split(":")[1].split()))

    started = time.perf_counter()
    result = dbtRunner(callbacks=[on_event]).invoke(
        [
            "run-operation",
            "cdp_connected_components_of",
            "--quiet",
            "--args",
            json.dumps({"edges_table": edges_table, "output_table": f"{edges_table}_components"}),
            "--project-dir",
            str(ROOT),
            "--profiles-dir",
            str(ROOT),
        ]
    )
    if not result.success:
        raise SystemExit(f"dbt run-operation failed on {edges_table}: {result.exception}")
    if len(reported) != 2:
        raise SystemExit(f"the macro did not report its start and rounds on {edges_table}")
    (began, _), (ended, words) = reported
    return {
        "wall_seconds": time.perf_counter() - started,
        "rounds": int(words[0]),
        "seconds": ended - began,
        "peak_mb": _peak_mb(),
    }


def run_scipy_worker(edges_table: str) -> dict:
    """In this process: read the same edges, encode keys with pandas, scipy components, save labels."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    with duckdb.connect(str(WAREHOUSE), read_only=True) as conn:
        edges = conn.sql(f"select node_key_a, node_key_b from {edges_table}").to_arrow_table()
    started = time.perf_counter()
    both = np.concatenate(
        [edges.column(0).to_numpy(zero_copy_only=False), edges.column(1).to_numpy(zero_copy_only=False)]
    )
    codes, keys = pd.factorize(both)
    m = edges.num_rows
    graph = sp.coo_matrix((np.ones(m, dtype=np.int8), (codes[:m], codes[m:])), shape=(len(keys), len(keys)))
    count, labels = connected_components(graph, directed=False)
    seconds = time.perf_counter() - started
    labels_table = pa.table({"node_key": pa.array(keys, pa.string()), "label": pa.array(labels)})
    pa_out = WORK / f"{edges_table.replace('.', '_')}_scipy.parquet"
    import pyarrow.parquet as pq

    pq.write_table(labels_table, pa_out)
    return {"seconds": seconds, "components": int(count), "peak_mb": _peak_mb(), "labels": str(pa_out)}


def _worker(kind: str, edges_table: str) -> dict:
    completed = subprocess.run(
        [sys.executable, __file__, kind, edges_table], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if completed.returncode != 0:
        raise SystemExit(
            f"{kind} worker failed on {edges_table}:\n{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def prepare_graphs() -> dict[str, str]:
    """Edge tables in the bench warehouse: name -> description."""
    WORK.mkdir(parents=True, exist_ok=True)
    raw = WORK / f"raw_{PERSONS}"
    if not (raw / "truth.csv").is_file():
        from cdp.generate import generate

        started = time.perf_counter()
        generate(PERSONS, 1, raw, "parquet")
        print(f"generated {PERSONS:,} persons in {time.perf_counter() - started:.1f} s")
    rules = ROOT / "seeds" / "identity" / "identity_link_rules.csv"
    keys = {
        "crm_customers": "customer_id",
        "loyalty_members": "loyalty_card_id",
        "orders": "order_id",
        "support_tickets": "ticket_id",
        "pos_transactions": "receipt_id",
        "app_events": "event_id",
        "web_events": "event_id",
    }
    sources = {  # raw table -> its identifier columns, named as in the raw contract
        "crm_customers": {"customer_id": "crm_customer_id", "email": "email", "phone": "phone"},
        "loyalty_members": {
            "loyalty_card_id": "loyalty_card_id",
            "customer_id": "crm_customer_id",
            "email": "email",
            "phone": "phone",
        },
        "orders": {
            "customer_id": "crm_customer_id",
            "email": "email",
            "phone": "phone",
            "anonymous_id": "anonymous_id",
        },
        "support_tickets": {"customer_id": "crm_customer_id", "email": "email", "phone": "phone"},
        "pos_transactions": {
            "loyalty_card_id": "loyalty_card_id",
            "email": "email",
            "phone": "phone",
            "payment_fingerprint": "payment_fingerprint",
        },
        "app_events": {"device_id": "device_id", "customer_id": "crm_customer_id", "push_token": "push_token"},
        "web_events": {"anonymous_id": "anonymous_id", "customer_id": "crm_customer_id", "email": "email"},
    }
    observations = " union all ".join(
        f"select '{table}' as t, {keys[table]} as k, '{kind}' as kind, '{kind}:' || lower(trim({column})) as node_key "
        f"from read_parquet('{raw / (table + '.parquet')}') where {column} is not null"
        for table, columns in sources.items()
        for column, kind in columns.items()
    )
    with duckdb.connect(str(WAREHOUSE)) as conn:
        conn.execute("create schema if not exists bench")
        conn.execute(
            f"""create or replace table bench.persons_edges as
                with o as ({observations}), r as (select * from read_csv('{rules}'))
                select distinct a.node_key as node_key_a, b.node_key as node_key_b
                from o a join o b on a.t = b.t and a.k = b.k
                join r on a.kind = r.identifier_type_a and b.kind = r.identifier_type_b"""
        )
        conn.execute(
            """create or replace table bench.chain_edges as
               select 'n:' || lpad(cast(i as varchar), 6, '0') as node_key_a,
                   'n:' || lpad(cast(i + 1 as varchar), 6, '0') as node_key_b
               from range(1, 10000) as t(i)"""
        )
        conn.execute(
            """create or replace table bench.junk_hub_edges as
               select 'p:' || i || ':a' as node_key_a, 'p:' || i || ':b' as node_key_b from range(200000) as t(i)
               union all
               select 'p:' || i || ':b', 'p:' || i || ':c' from range(200000) as t(i)
               union all
               select 'hub:' || (i % 5), 'p:' || i || ':a' from range(0, 200000, 2) as t(i)"""
        )
        sizes = {
            name: conn.execute(
                f"select count(*), (select count(*) from (select node_key_a from bench.{name} union select "
                f"node_key_b from bench.{name})) from bench.{name}"
            ).fetchone()
            for name in ("persons_edges", "chain_edges", "junk_hub_edges")
        }
    return {
        "bench.persons_edges": f"{PERSONS:,} generated persons: {sizes['persons_edges'][1]:,} identifiers, "
        f"{sizes['persons_edges'][0]:,} links",
        "bench.chain_edges": f"chain with increasing ids: {sizes['chain_edges'][1]:,} nodes",
        "bench.junk_hub_edges": f"junk hubs: {sizes['junk_hub_edges'][1]:,} nodes, 5 hubs of 20,000 links each",
    }


def same_partition(edges_table: str, scipy_labels: str) -> bool:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as conn:
        ours, theirs, pairs, missing = conn.execute(
            f"""with o as (select * from {edges_table}_components), s as (select * from read_parquet('{scipy_labels}'))
                select count(distinct o.component_key), count(distinct s.label),
                    count(distinct (o.component_key, s.label)),
                       (select count(*) from s anti join o using (node_key)) + (select count(*) from o anti
                           join s using (node_key))
                from o join s using (node_key)"""
        ).fetchone()
    return missing == 0 and ours == theirs == pairs


def main() -> int:
    graphs = prepare_graphs()
    print(
        f"{RUNS} runs per graph; each run times the SQL and scipy back to back, so each ratio compares one "
        "moment of this shared machine."
    )
    measured: dict[str, list[tuple[dict, dict, bool]]] = {table: [] for table in graphs}
    for run in range(1, RUNS + 1):
        for table, description in graphs.items():
            ours = _worker("sql", table)
            theirs = _worker("scipy", table)
            same = same_partition(table, theirs["labels"])
            measured[table].append((ours, theirs, same))
            print(
                f"run {run}: {description}: SQL {ours['seconds']:.1f} s ({ours['rounds']} rounds), scipy "
                f"{theirs['seconds']:.2f} s, "
                f"ratio {_ratio(ours, theirs):.1f}x, {'same partition' if same else 'PARTITIONS DIFFER'}",
                flush=True,
            )
    print()
    print(
        f"{'graph':<72} {'SQL s':>6} {'wall s':>6} {'rounds':>6} {'SQL MB':>6} {'scipy s':>7} {'scipy MB':>8} "
        f"{'ratio':>6} {'ratios':>13} {'same':>4}"
    )
    for table, description in graphs.items():
        runs = measured[table]
        ratios = sorted(_ratio(ours, theirs) for ours, theirs, _ in runs)
        print(
            f"{description:<72} {median(o['seconds'] for o, _, _ in runs):>6.1f} "
            f"{median(o['wall_seconds'] for o, _, _ in runs):>6.1f} "
            f"{max(o['rounds'] for o, _, _ in runs):>6} {max(o['peak_mb'] for o, _, _ in runs):>6.0f} "
            f"{median(t['seconds'] for _, t, _ in runs):>7.2f} {max(t['peak_mb'] for _, t, _ in runs):>8.0f} "
            f"{median(ratios):>5.1f}x {f'{ratios[0]:.1f}-{ratios[-1]:.1f}x':>13} "
            f"{'yes' if all(same for _, _, same in runs) else 'NO':>4}"
        )
    print(f"\nSQL s, wall s, scipy s, ratio: medians of {RUNS} runs; ratios: lowest and highest; MB: highest peak.")
    print("ratio: SQL seconds / scipy seconds of the same run; both include encoding text keys to integers.")
    print("same: the two partitions of the identifiers are identical in every run.")
    return 0


def _ratio(ours: dict, theirs: dict) -> float:
    return ours["seconds"] / theirs["seconds"] if theirs["seconds"] else float("inf")


if __name__ == "__main__":
    if len(sys.argv) == 3:
        worker = run_sql_worker if sys.argv[1] == "sql" else run_scipy_worker
        print(json.dumps(worker(sys.argv[2])))
        sys.exit(0)
    sys.exit(main())
