"""`cdp generate` writes contract-shaped raw files and a truth row for every person row."""

from __future__ import annotations

import csv

from cdp.cli import main
from cdp.contract import raw_contract


def read(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_files_follow_the_contract_and_truth_covers_every_person_row(tmp_path):
    assert main(["generate", "--persons", "3000", "--seed", "5", "--out", str(tmp_path)]) == 0
    truth = read(tmp_path / "truth.csv")
    truth_keys = {(row["source_table"], row["source_key"]) for row in truth}
    person_tables = {row["source_table"] for row in truth}
    assert {"crm_customers", "loyalty_members", "orders", "pos_transactions", "web_events", "app_events"} <= person_tables
    for table in raw_contract().values():
        path = tmp_path / f"{table.name}.csv"
        if not path.exists():
            continue
        with path.open(newline="") as handle:
            assert next(csv.reader(handle)) == list(table.column_names)
        if table.name in person_tables:
            keys = {(table.name, row[table.key[0]]) for row in read(path)}
            assert keys <= truth_keys
            assert len(keys) == sum(1 for row in truth if row["source_table"] == table.name)
    cases = {row["truth_case"] for row in truth}
    assert {"crm_duplicate_with_typo", "guest_checkout", "shared_family_device", "junk_email", "store_phone_on_receipt"} <= cases


def test_same_seed_same_files(tmp_path):
    from cdp.generate import generate

    generate(200, 9, tmp_path / "a")
    generate(200, 9, tmp_path / "b")
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()
