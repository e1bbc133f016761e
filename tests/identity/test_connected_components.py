"""The SQL connected components: few rounds on long chains, same partition as scipy, loud cap."""

from __future__ import annotations

import json
import os
import subprocess

import duckdb
import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from cdp.dbt_runner import dbt_command

pytestmark = pytest.mark.slow


def run_components(warehouse, edges_table, max_rounds=None):
    args = {"edges_table": edges_table, "output_table": edges_table + "_components"}
    if max_rounds:
        args["max_rounds"] = max_rounds
    env = {**os.environ, "CDP_WAREHOUSE": str(warehouse)}
    return subprocess.run(
        dbt_command(["run-operation", "cdp_connected_components_of", "--args", json.dumps(args)]),
        env=env,
        capture_output=True,
        text=True,
    )


def rounds_reported(output: str) -> int:
    line = next(line for line in output.splitlines() if "cdp_connected_components_of:" in line and "rounds" in line)
    return int(line.split("cdp_connected_components_of:")[1].split()[0])


@pytest.fixture
def graphs(tmp_path):
    warehouse = tmp_path / "graphs.duckdb"
    rng = np.random.default_rng(3)
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("create schema g")
        conn.execute(
            "create table g.chain as select 'n:' || lpad(cast(i as varchar), 6, '0') as node_key_a, "
            "'n:' || lpad(cast(i + 1 as varchar), 6, '0') as node_key_b from range(1, 10000) t(i)"
        )
        # many small people, a few junk hubs each shared by hundreds, and stray pairs
        a = rng.integers(0, 3000, 6000)
        b = rng.integers(0, 3000, 6000)
        conn.execute("create table g.random as select * from (values ('x', 'y')) t(node_key_a, node_key_b) where false")
        conn.executemany(
            "insert into g.random values (?, ?)",
            [[f"p:{x}", f"p:{y // 3 * 3}"] for x, y in zip(a[:3000], b[:3000], strict=True)],
        )
        conn.executemany("insert into g.random values (?, ?)", [[f"hub:{i % 4}", f"q:{i}"] for i in range(2000)])
        # shapes the pendant pruning treats apart: a node linked only to itself, two
        # pendants linked to each other, a star whose centre has only pendants, a repeated edge
        conn.executemany(
            "insert into g.random values (?, ?)",
            [
                ["solo:1", "solo:1"],
                ["pair:1", "pair:2"],
                ["pair:2", "pair:1"],
                ["star:0", "star:1"],
                ["star:2", "star:0"],
                ["star:0", "star:3"],
            ],
        )
    return warehouse


def test_chain_of_ten_thousand_increasing_ids_needs_few_rounds(graphs):
    completed = run_components(graphs, "g.chain")
    assert completed.returncode == 0, completed.stdout[-3000:]
    rounds = rounds_reported(completed.stdout)
    print(f"\nchain of 10,000 increasing ids: {rounds} rounds")
    assert rounds <= 40
    with duckdb.connect(str(graphs), read_only=True) as conn:
        assert conn.execute("select count(*), count(distinct component_key) from g.chain_components").fetchone() == (
            10000,
            1,
        )


def test_partition_equals_scipy_on_a_graph_with_junk_hubs(graphs):
    completed = run_components(graphs, "g.random")
    assert completed.returncode == 0, completed.stdout[-3000:]
    with duckdb.connect(str(graphs), read_only=True) as conn:
        edges = conn.execute("select node_key_a, node_key_b from g.random").fetchall()
        ours = dict(conn.execute("select node_key, component_key from g.random_components").fetchall())
    keys = sorted({k for edge in edges for k in edge})
    index = {k: i for i, k in enumerate(keys)}
    rows = [index[a] for a, _ in edges]
    cols = [index[b] for _, b in edges]
    _, labels = connected_components(
        sp.coo_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(keys),) * 2), directed=False
    )
    assert set(ours) == set(keys)
    pairs = {(ours[k], labels[index[k]]) for k in keys}
    assert len(pairs) == len(set(ours.values())) == len(set(labels))


def test_round_cap_fails_loudly(graphs):
    completed = run_components(graphs, "g.chain", max_rounds=2)
    assert completed.returncode != 0
    assert "did not converge in 2 rounds" in completed.stdout
