"""The loader enforces the shape of raw files; values are staging's business."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdp.contract import raw_contract
from cdp.warehouse import DuckDBWarehouse
from cdp.raw_loader import LOAD_ISSUES_TABLE, RawContractError, load_raw_dir

CRM_HEADER = "customer_id,email,phone,first_name,last_name,birth_date,street,city,postal_code,country,created_at,updated_at"


@pytest.fixture
def warehouse():
    target = DuckDBWarehouse(Path(":memory:"))
    yield target
    target.close()


@pytest.fixture
def conn(warehouse):
    return warehouse.conn


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


def test_every_contract_table_exists_after_a_load_and_missing_files_are_empty(tmp_path, warehouse, conn):
    report = load_raw_dir(warehouse, tmp_path, raw_contract())
    assert report.rows == 0
    tables = {name for (name,) in conn.execute("select table_name from information_schema.tables where table_schema = 'raw'").fetchall()}
    assert tables == set(raw_contract()) | {LOAD_ISSUES_TABLE}
    for table in raw_contract().values():
        columns = [name for (name,) in conn.execute(f"select column_name from information_schema.columns where table_schema = 'raw' and table_name = '{table.name}' order by ordinal_position").fetchall()]
        assert columns[: len(table.column_names)] == list(table.column_names)


def test_a_missing_expected_column_names_the_file_and_the_column(tmp_path, warehouse, conn):
    header_without_email = CRM_HEADER.replace("email,", "")
    path = write(tmp_path, "crm_customers.csv", header_without_email + "\n" + "C1,,Ann,Lee,,,,,GB,2026-01-01,\n")
    with pytest.raises(RawContractError) as error:
        load_raw_dir(warehouse, tmp_path, raw_contract())
    assert str(path) in str(error.value)
    assert "'email'" in str(error.value)


def test_a_contract_error_leaves_the_previous_load_in_place(tmp_path, warehouse, conn):
    good = tmp_path / "good"
    good.mkdir()
    write(good, "crm_customers.csv", CRM_HEADER + "\nC1,a@example.com,,,,,,,,GB,2026-01-01,\n")
    load_raw_dir(warehouse, good, raw_contract())
    bad = tmp_path / "bad"
    bad.mkdir()
    write(bad, "crm_customers.csv", CRM_HEADER + "\nC2,b@example.com,,,,,,,,GB,2026-01-01,\n")
    write(bad, "orders.csv", "order_id\nO1\n")
    with pytest.raises(RawContractError):
        load_raw_dir(warehouse, bad, raw_contract())
    assert conn.execute("select customer_id from raw.crm_customers").fetchall() == [("C1",)]


def test_unknown_columns_are_ignored_and_reported(tmp_path, warehouse, conn):
    write(tmp_path, "crm_customers.csv", CRM_HEADER + ",loyalty_segment\nC1,a@example.com,,,,,,,,GB,2026-01-01,,vip\n")
    report = load_raw_dir(warehouse, tmp_path, raw_contract())
    (crm,) = [t for t in report.tables if t.table == "crm_customers"]
    assert crm.ignored_columns == ["loyalty_segment"]
    columns = [c for (c,) in conn.execute("select column_name from information_schema.columns where table_name = 'crm_customers'").fetchall()]
    assert "loyalty_segment" not in columns


def test_values_are_loaded_as_text_with_their_file_and_row(tmp_path, warehouse, conn):
    write(tmp_path, "crm_customers.csv", CRM_HEADER + "\nC1,a@example.com,,,,0042,,,,GB,2026-01-01,\nC2,,,,,,,,,GB,not a date,\n")
    load_raw_dir(warehouse, tmp_path, raw_contract())
    rows = conn.execute("select customer_id, birth_date, created_at, _cdp_source_file, _cdp_source_row from raw.crm_customers order by 1").fetchall()
    assert rows == [("C1", "0042", "2026-01-01", "crm_customers.csv", 1), ("C2", "", "not a date", "crm_customers.csv", 2)]


def test_a_table_given_twice_is_an_error(tmp_path, warehouse, conn):
    write(tmp_path, "products.csv", "product_id,name,category,brand,price\n")
    pq.write_table(pa.table({"product_id": ["P1"], "name": ["x"], "category": ["y"], "brand": ["z"], "price": ["1"]}), tmp_path / "products.parquet")
    with pytest.raises(RawContractError, match="products"):
        load_raw_dir(warehouse, tmp_path, raw_contract())


def test_parquet_and_gzipped_csv_are_read(tmp_path, warehouse, conn):
    pq.write_table(
        pa.table({"product_id": ["P1"], "name": ["Tee"], "category": ["tops"], "brand": ["N"], "price": pa.array([19.5])}),
        tmp_path / "products.parquet",
    )
    with gzip.open(tmp_path / "stores.csv.gz", "wt") as handle:
        handle.write("store_id,name,city,country,latitude,longitude\nS1,Main,Leeds,GB,53.8,-1.5\n")
    load_raw_dir(warehouse, tmp_path, raw_contract())
    assert conn.execute("select product_id, price from raw.products").fetchall() == [("P1", "19.5")]
    assert conn.execute("select store_id, city from raw.stores").fetchall() == [("S1", "Leeds")]


def test_a_line_that_does_not_split_into_the_header_columns_is_recorded_not_loaded(tmp_path, warehouse, conn):
    write(tmp_path, "products.csv", "product_id,name,category,brand,price\nP1,Tee,tops,N,10\nP2,broken line\nP3,Cap,hats,N,5\n")
    report = load_raw_dir(warehouse, tmp_path, raw_contract())
    assert report.malformed_lines == 1
    assert conn.execute("select product_id from raw.products order by 1").fetchall() == [("P1",), ("P3",)]
    assert conn.execute(f"select source_table, source_file, reason, raw_text from raw.{LOAD_ISSUES_TABLE}").fetchall() == [
        ("products", "products.csv", "malformed_line", "P2,broken line")
    ]


def test_a_folder_that_does_not_exist_is_an_error(tmp_path, warehouse, conn):
    with pytest.raises(RawContractError, match="does not exist"):
        load_raw_dir(warehouse, tmp_path / "nowhere", raw_contract())


def test_the_published_contract_document_is_current():
    from cdp.contract import contract_markdown
    from cdp.paths import project_dir

    published = (project_dir() / "docs" / "raw-source-contract.md").read_text()
    assert published == contract_markdown(raw_contract()), "run `cdp contract --write` after changing a source definition"
