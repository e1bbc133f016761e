"""int_purchases_collected on its incremental path: a re-run re-reads the lookback window,
replaces changed purchases by key (a late cancellation) and leaves the rest as it was."""

from __future__ import annotations

import shutil

import duckdb

from cdp.build import demo_as_of
from cdp.dbt_runner import run_dbt
from tests.conftest import query, warehouse_at

COLUMNS = "purchase_id, channel, purchased_at, gross_amount, is_cancelled, is_returned_online"


def test_an_incremental_run_picks_up_a_late_cancellation_and_keeps_the_rest(demo_warehouse, tmp_path):
    warehouse = shutil.copy(demo_warehouse, tmp_path / "cdp.duckdb")
    before = query(warehouse, f"select {COLUMNS} from intermediate.int_purchases_collected order by purchase_id")
    ((order_id,),) = query(
        warehouse,
        """
        select order_id from intermediate.int_purchases_collected
        where order_id is not null and not is_cancelled order by purchased_at desc, order_id limit 1""",
    )
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute("update staging.stg_shop__orders set order_status = 'cancelled' where order_id = ?", [order_id])

    with warehouse_at(warehouse):
        run_dbt(
            ["run", "--select", "int_purchases_collected"], dbt_vars={"cdp__as_of": demo_as_of().isoformat(sep=" ")}
        )

    after = query(warehouse, f"select {COLUMNS} from intermediate.int_purchases_collected order by purchase_id")
    changed = [row for row in after if row not in before]
    assert [(row[0], row[4]) for row in changed] == [(f"order-{order_id}", True)]
    assert len(after) == len(before)


def test_a_back_dated_order_beyond_the_lookback_reaches_fct_purchases(demo_warehouse, tmp_path):
    warehouse = shutil.copy(demo_warehouse, tmp_path / "cdp.duckdb")
    with duckdb.connect(str(warehouse)) as conn:
        conn.execute(
            """
            create or replace temporary table late as
            select * replace ('LATE-1' as order_id, ordered_at - interval 400 day as ordered_at)
            from staging.stg_shop__orders order by ordered_at desc, order_id limit 1"""
        )
        conn.execute("insert into staging.stg_shop__orders select * from late")
        ((newest, late),) = conn.execute(
            "select max(purchased_at), (select ordered_at from late) from intermediate.int_purchases_collected"
        ).fetchall()
    assert (newest - late).days > 120, "the late order must be older than the lookback window"

    with warehouse_at(warehouse):
        run_dbt(
            ["run", "--select", "int_purchases_collected+,+fct_purchases"],
            dbt_vars={"cdp__as_of": demo_as_of().isoformat(sep=" ")},
        )

    assert query(warehouse, "select order_id from marts.fct_purchases where order_id = 'LATE-1'") == [("LATE-1",)]
