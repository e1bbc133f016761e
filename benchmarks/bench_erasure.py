"""What the erasure check costs a load: `load_raw_dir` of N CRM rows before and after an erasure.

    .venv/bin/python benchmarks/bench_erasure.py [N]     # default 100,000 rows

Figures, not a test. Once a warehouse holds erased identifiers, every load hashes each
identifier of each raw row (cdp/erasure.py); the CRM file has three (CRM id, e-mail, a
phone in national format, parsed with libphonenumber). Three loads each way in one run;
the medians and their ratio are printed.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from activation.state import migrate_warehouse
from cdp.contract import raw_contract
from cdp.erasure import erase_requested_persons
from cdp.raw_loader import load_raw_dir
from cdp.warehouse import DuckDBWarehouse

HEADER = (
    "customer_id,email,phone,first_name,last_name,birth_date,street,city,postal_code,country,created_at,updated_at\n"
)


def timed_load(warehouse: Path, raw_dir: Path) -> float:
    opened = DuckDBWarehouse(warehouse)
    try:
        start = time.perf_counter()
        load_raw_dir(opened, raw_dir, raw_contract())
        return time.perf_counter() - start
    finally:
        opened.close()


def main(rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        raw_dir = root / "raw"
        raw_dir.mkdir()
        with (raw_dir / "crm_customers.csv").open("w") as crm:
            crm.write(HEADER)
            for i in range(rows):
                crm.write(
                    f"C{i},person{i}@example.com,07700 9{i % 100000:05d},First{i},Last{i},1980-01-02,"
                    f"{i} High Street,Leeds,LS1 1AA,GB,2025-01-01,\n"
                )
        warehouse = root / "w.duckdb"
        migrate_warehouse(warehouse)
        before = [timed_load(warehouse, raw_dir) for _ in range(3)]
        (raw_dir / "erasure_requests.csv").write_text(
            "subject_type,subject_value,requested_at\nemail,person7@example.com,2026-11-19\n"
        )
        timed_load(warehouse, raw_dir)
        for _ in range(2):  # no graph here: the request waits one run, then erases its own identifier
            erase_requested_persons(warehouse, datetime(2026, 11, 20))
        after = [timed_load(warehouse, raw_dir) for _ in range(3)]
    plain, checked = statistics.median(before), statistics.median(after)
    print(
        f"{rows:,} CRM rows: load median {plain:.2f} s without erased identifiers, {checked:.2f} s with "
        f"({checked / plain:.1f}x, 3 loads each)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
