"""Offline evaluation of the co-purchase recommendations: hit rate at 10 on a time split.

    .venv/bin/python benchmarks/bench_recommendations.py      # or: make bench-recommendations

Figures, not a test. Per data set (the bundled demo, and `cdp generate` output of
CDP_BENCH_RECOMMENDATION_PERSONS persons, default 2,000, seed 1) a warehouse is built
with `cdp build` into CDP_BENCH_DIR, and its purchase lines
(intermediate.int_journey_purchased_products: online orders and store receipts) are
split in time: the cut-off is the time by which 80 % of the lines had happened
(CDP_BENCH_RECOMMENDATION_TRAIN_SHARE). Training sees the lines up to the cut-off;
a test person is one with a purchase up to it and, after it, a product they had not
bought before. A hit is one of those products among the person's first 10
recommendations.

The co-purchase model is the model's own SQL: the macro cdp_co_purchase_recommendations,
which fct_person_recommendations calls with the plan's moment, compiled by dbt here with
the cut-off instead. Beside it a popularity baseline: the 10 products with the most
buyers up to the cut-off that the person has not bought (ties: smaller product_id).
A test person the co-purchase model has nothing for counts as a miss.

A third set has a known structure, to show what each method finds where there is
something to find: CDP_BENCH_RECOMMENDATION_PLANTED_PERSONS (default 20,000) persons
over 200 products in 20 categories, each person buying mostly (70 %) in one favourite
category, the rest anywhere, with popularity skewed inside every category; written
straight into a DuckDB file as purchase lines (no build). Where a catalogue has no more
unbought products than 10, the popularity list holds all of them and hits whenever
anything new is bought: read its rate with the catalogue size printed beside it.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]


WORK = Path(os.environ.get("CDP_BENCH_DIR", ROOT / "warehouse" / "bench-recommendations"))
PERSONS = int(os.environ.get("CDP_BENCH_RECOMMENDATION_PERSONS", "2000"))
PLANTED_PERSONS = int(os.environ.get("CDP_BENCH_RECOMMENDATION_PLANTED_PERSONS", "20000"))
TRAIN_SHARE = float(os.environ.get("CDP_BENCH_RECOMMENDATION_TRAIN_SHARE", "0.8"))
K = 10
LINES = "intermediate.int_journey_purchased_products"
CDP = str(ROOT / ".venv" / "bin" / "cdp")


def build(name: str, raw_dir: Path | None) -> Path:
    """A warehouse built by `cdp build` from ``raw_dir`` (None: the demo data, as of its own date)."""
    warehouse = WORK / f"{name}.duckdb"
    warehouse.unlink(missing_ok=True)
    command = [CDP, "build"] + (["--raw-dir", str(raw_dir)] if raw_dir else [])
    started = time.perf_counter()
    result = subprocess.run(
        command, cwd=ROOT, env=os.environ | {"CDP_WAREHOUSE": str(warehouse)}, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise SystemExit(f"cdp build of {name} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    print(f"{name}: built in {time.perf_counter() - started:.0f} s", flush=True)
    return warehouse


def planted(persons: int) -> Path:
    """Purchase lines with a planted co-purchase structure (the module's docstring), seeded."""
    warehouse = WORK / "planted.duckdb"
    warehouse.unlink(missing_ok=True)
    with duckdb.connect(str(warehouse)) as conn:
        # One thread: random() then draws the same sequence on every run.
        conn.execute("set threads = 1")
        conn.execute("select setseed(0.42)")
        conn.execute("create schema intermediate")
        conn.execute(
            f"""create table {LINES} as
                with persons as (
                    select 'p' || i as person_id, cast(floor(random() * 20) as int) as favourite,
                           2 + cast(floor(random() * 7) as int) as purchases
                    from range({persons}) as numbers(i)
                ),
                purchases as (
                    select person_id, favourite, unnest(range(purchases)) as purchase_number from persons
                ),
                lines as (
                    select
                        person_id,
                        timestamp '2025-01-01' + to_seconds(cast(floor(random() * 730 * 86400) as bigint))
                            as purchased_at,
                        case
                            when random() < 0.7 then favourite * 10 + cast(floor(pow(random(), 2) * 10) as int)
                            else cast(floor(pow(random(), 2) * 200) as int)
                        end as product_number
                    from purchases
                )
                select person_id, purchased_at, 'P' || lpad(cast(product_number as varchar), 3, '0') as product_id
                from lines"""
        )
    return warehouse


def compiled_recommendations(warehouse: Path, cut_off: str) -> str:
    """The model's macro compiled by dbt for the training lines up to ``cut_off``."""
    from dbt.cli.main import dbtRunner

    inline = f"{{{{ cdp_co_purchase_recommendations('{LINES}', \"timestamp '{cut_off}'\", {K}) }}}}"
    os.environ["CDP_WAREHOUSE"] = str(warehouse)
    result = dbtRunner().invoke(
        [
            "compile",
            "--log-level",
            "none",
            "--inline",
            inline,
            "--project-dir",
            str(ROOT),
            "--profiles-dir",
            str(ROOT),
            "--target-path",
            str(WORK / "target"),
        ]
    )
    if not result.success:
        raise SystemExit(f"dbt compile of the recommendations failed: {result.exception}")
    return result.result.results[0].node.compiled_code


def evaluate(name: str, warehouse: Path) -> dict:
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        lines, persons, products = conn.execute(
            f"select count(*), count(distinct person_id), count(distinct product_id) from {LINES}"
        ).fetchone()
        (cut_off,) = conn.execute(f"select quantile_disc(purchased_at, {TRAIN_SHARE}) from {LINES}").fetchone()
    cut_off_sql = f"timestamp '{cut_off}'"
    # Compiled before the warehouse is opened again: dbt connects to it too.
    recommendations = compiled_recommendations(warehouse, str(cut_off))
    conn = duckdb.connect(str(warehouse))
    try:
        conn.execute("set enable_progress_bar = false")
        conn.execute(f"create temp table co_purchase as {recommendations}")
        conn.execute(
            f"""create temp table train as
                select distinct person_id, product_id from {LINES} where purchased_at <= {cut_off_sql}"""
        )
        conn.execute(
            f"""create temp table test_products as
                select distinct lines.person_id, lines.product_id
                from {LINES} as lines
                inner join (select distinct person_id from train) as trained on lines.person_id = trained.person_id
                left join train on lines.person_id = train.person_id and lines.product_id = train.product_id
                where lines.purchased_at > {cut_off_sql} and train.person_id is null"""
        )
        conn.execute(
            f"""create temp table popular as
                with buyers as (
                    select product_id, count(*) as buyers from train group by product_id
                ),
                candidates as (
                    select trained.person_id, buyers.product_id, buyers.buyers
                    from (select distinct person_id from test_products) as trained
                    cross join buyers
                    left join train on trained.person_id = train.person_id and buyers.product_id = train.product_id
                    where train.person_id is null
                )
                select * from (
                    select person_id, product_id,
                           row_number() over (partition by person_id order by buyers desc, product_id) as rank
                    from candidates
                ) where rank <= {K}"""
        )

        def hit_rate(table: str) -> tuple[int, float]:
            test_persons, hits = conn.execute(
                f"""select count(*), count(*) filter (where hit)
                    from (
                        select test_products.person_id, bool_or({table}.product_id is not null) as hit
                        from test_products
                        left join {table}
                            on test_products.person_id = {table}.person_id
                            and test_products.product_id = {table}.product_id
                        group by test_products.person_id
                    )"""
            ).fetchone()
            return test_persons, hits / test_persons if test_persons else float("nan")

        test_persons, co_purchase_rate = hit_rate("co_purchase")
        _, popularity_rate = hit_rate("popular")
        (train_persons,) = conn.execute("select count(distinct person_id) from train").fetchone()
        (covered,) = conn.execute(
            """select count(distinct test_products.person_id) from test_products
               inner join co_purchase on test_products.person_id = co_purchase.person_id"""
        ).fetchone()
    finally:
        conn.close()
    return {
        "data set": name,
        "purchase lines": lines,
        "persons": persons,
        "products": products,
        "cut-off": str(cut_off),
        "train persons": train_persons,
        "test persons": test_persons,
        "with a co-purchase recommendation": covered,
        f"hit rate@{K} co-purchase": co_purchase_rate,
        f"hit rate@{K} popularity": popularity_rate,
    }


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    generated = WORK / f"generated-{PERSONS}"
    subprocess.run(
        [CDP, "generate", "--persons", str(PERSONS), "--seed", "1", "--out", str(generated)], cwd=ROOT, check=True
    )
    results = [
        evaluate("demo", build("demo", None)),
        evaluate(f"generated {PERSONS:,}", build(f"generated-{PERSONS}", generated)),
        evaluate(f"planted structure {PLANTED_PERSONS:,}", planted(PLANTED_PERSONS)),
    ]
    print()
    for result in results:
        print(f"{result.pop('data set')}:")
        for key, value in result.items():
            shown = f"{value:.4f}" if isinstance(value, float) else f"{value:,}" if isinstance(value, int) else value
            print(f"  {key:<36} {shown}")


if __name__ == "__main__":
    main()
