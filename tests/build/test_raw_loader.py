"""The loader enforces the shape of raw files; values are staging's business."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cdp.contract import raw_contract
from cdp.raw_loader import LOAD_ISSUES_TABLE, RawContractError, load_raw_dir
from cdp.warehouse import DuckDBWarehouse

CRM_HEADER = (
    "customer_id,email,phone,first_name,last_name,birth_date,street,city,postal_code,country,created_at,updated_at"
)


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
    tables = {
        name
        for (name,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'raw'"
        ).fetchall()
    }
    assert tables == set(raw_contract()) | {LOAD_ISSUES_TABLE}
    for table in raw_contract().values():
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns"
                f" where table_schema = 'raw' and table_name = '{table.name}' order by ordinal_position"
            ).fetchall()
        ]
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
    columns = [
        c
        for (c,) in conn.execute(
            "select column_name from information_schema.columns where table_name = 'crm_customers'"
        ).fetchall()
    ]
    assert "loyalty_segment" not in columns


def test_values_are_loaded_as_text_with_their_file_and_row(tmp_path, warehouse, conn):
    write(
        tmp_path,
        "crm_customers.csv",
        CRM_HEADER + "\nC1,a@example.com,,,,0042,,,,GB,2026-01-01,\nC2,,,,,,,,,GB,not a date,\n",
    )
    load_raw_dir(warehouse, tmp_path, raw_contract())
    rows = conn.execute(
        "select customer_id, birth_date, created_at, _cdp_source_file, _cdp_source_row"
        " from raw.crm_customers order by 1"
    ).fetchall()
    assert rows == [
        ("C1", "0042", "2026-01-01", "crm_customers.csv", 1),
        ("C2", "", "not a date", "crm_customers.csv", 2),
    ]


def test_a_table_given_twice_is_an_error(tmp_path, warehouse, conn):
    write(tmp_path, "products.csv", "product_id,name,category,brand,price\n")
    pq.write_table(
        pa.table({"product_id": ["P1"], "name": ["x"], "category": ["y"], "brand": ["z"], "price": ["1"]}),
        tmp_path / "products.parquet",
    )
    with pytest.raises(RawContractError, match="products"):
        load_raw_dir(warehouse, tmp_path, raw_contract())


def test_parquet_and_gzipped_csv_are_read(tmp_path, warehouse, conn):
    pq.write_table(
        pa.table(
            {"product_id": ["P1"], "name": ["Tee"], "category": ["tops"], "brand": ["N"], "price": pa.array([19.5])}
        ),
        tmp_path / "products.parquet",
    )
    with gzip.open(tmp_path / "stores.csv.gz", "wt") as handle:
        handle.write("store_id,name,city,country,latitude,longitude\nS1,Main,Leeds,GB,53.8,-1.5\n")
    load_raw_dir(warehouse, tmp_path, raw_contract())
    assert conn.execute("select product_id, price from raw.products").fetchall() == [("P1", "19.5")]
    assert conn.execute("select store_id, city from raw.stores").fetchall() == [("S1", "Leeds")]


def test_a_line_that_does_not_split_into_the_header_columns_is_recorded_not_loaded(tmp_path, warehouse, conn):
    write(
        tmp_path,
        "products.csv",
        "product_id,name,category,brand,price\nP1,Tee,tops,N,10\nP2,broken line\nP3,Cap,hats,N,5\n",
    )
    report = load_raw_dir(warehouse, tmp_path, raw_contract())
    assert report.malformed_lines == 1
    assert conn.execute("select product_id from raw.products order by 1").fetchall() == [("P1",), ("P3",)]
    assert conn.execute(
        f"select source_table, source_file, reason, raw_text from raw.{LOAD_ISSUES_TABLE}"
    ).fetchall() == [("products", "products.csv", "malformed_line", "P2,broken line")]


def test_a_folder_that_does_not_exist_is_an_error(tmp_path, warehouse, conn):
    with pytest.raises(RawContractError, match="does not exist"):
        load_raw_dir(warehouse, tmp_path / "nowhere", raw_contract())


def test_the_published_contract_document_is_current():
    from cdp.contract import contract_markdown
    from cdp.paths import project_dir

    published = (project_dir() / "docs" / "raw-source-contract.md").read_text()
    assert published == contract_markdown(raw_contract()), (
        "run `cdp contract --write` after changing a source definition"
    )


PRODUCTS_HEADER = "product_id,name,category,brand,price"


def load_error(directory: Path, warehouse) -> str:
    with pytest.raises(RawContractError) as error:
        load_raw_dir(warehouse, directory, raw_contract())
    return str(error.value)


def test_an_unterminated_quote_quarantines_its_line_alone_and_keeps_the_lines_after_it(tmp_path, warehouse, conn):
    lines = [f"P{n},Tee {n},tops,N,{n}" for n in range(1, 11)]
    lines[2] = 'P3,"Tee 3,tops,N,3'
    write(tmp_path, "products.csv", PRODUCTS_HEADER + "\n" + "\n".join(lines) + "\n")
    report = load_raw_dir(warehouse, tmp_path, raw_contract())
    assert report.malformed_lines == 1
    loaded = [p for (p,) in conn.execute("select product_id from raw.products order by _cdp_source_row").fetchall()]
    assert loaded == ["P1", "P2", "P4", "P5", "P6", "P7", "P8", "P9", "P10"]
    assert conn.execute(f"select source_line, reason, raw_text from raw.{LOAD_ISSUES_TABLE}").fetchall() == [
        (4, "malformed_line", 'P3,"Tee 3,tops,N,3')
    ]


def test_quoted_line_breaks_still_load_once_a_file_has_a_bad_line(tmp_path, warehouse, conn):
    write(
        tmp_path,
        "products.csv",
        PRODUCTS_HEADER + '\nP1,"Tee\nwith a long name",tops,N,10\nP2,broken\nP3,Cap,hats,N,5\n',
    )
    load_raw_dir(warehouse, tmp_path, raw_contract())
    assert conn.execute("select product_id, name from raw.products order by 1").fetchall() == [
        ("P1", "Tee\nwith a long name"),
        ("P3", "Cap"),
    ]
    assert conn.execute(f"select source_line, raw_text from raw.{LOAD_ISSUES_TABLE}").fetchall() == [(4, "P2,broken")]


def test_header_names_that_differ_only_in_case_and_spaces_are_an_error_naming_both(tmp_path, warehouse):
    path = write(tmp_path, "products.csv", "product_id,name,category,brand,price,NAME \nP1,a,b,c,1,d\n")
    message = load_error(tmp_path, warehouse)
    assert message.startswith(f"{path}: ")
    assert "'name'" in message and "'NAME '" in message


def test_a_repeated_header_name_is_an_error(tmp_path, warehouse):
    path = write(tmp_path, "products.csv", "product_id,name,category,brand,price,price\nP1,a,b,c,1,2\n")
    assert load_error(tmp_path, warehouse).startswith(f"{path}: columns 5 ('price') and 6 ('price')")


def test_a_latin_1_file_is_an_encoding_error_at_the_line_of_the_first_bad_byte(tmp_path, warehouse, conn):
    (tmp_path / "products.csv").write_bytes(
        (PRODUCTS_HEADER + "\nP1,Tee,tops,N,1\nP2,Café,tops,N,2\n").encode("latin-1")
    )
    message = load_error(tmp_path, warehouse)
    assert message.startswith(f"{tmp_path / 'products.csv'}: line 3: not UTF-8 (byte 0xe9")
    assert "header" not in message


def test_a_bad_byte_in_the_header_is_line_1(tmp_path, warehouse):
    (tmp_path / "products.csv").write_bytes("product_id,nãme,category,brand,price\n".encode("latin-1"))
    assert ": line 1: not UTF-8" in load_error(tmp_path, warehouse)


def test_a_truncated_gzip_file_is_an_error_naming_it(tmp_path, warehouse):
    body = (PRODUCTS_HEADER + "\n" + "".join(f"P{n},Tee,tops,N,{n}\n" for n in range(5000))).encode()
    compressed = gzip.compress(body)
    (tmp_path / "products.csv.gz").write_bytes(compressed[: len(compressed) // 2])
    message = load_error(tmp_path, warehouse)
    assert message.startswith(f"{tmp_path / 'products.csv.gz'}: the gzip file is truncated or corrupt")


def test_a_gz_file_that_is_not_gzip_is_an_error_naming_it(tmp_path, warehouse):
    write(tmp_path, "products.csv.gz", PRODUCTS_HEADER + "\n")
    assert "truncated or corrupt" in load_error(tmp_path, warehouse)


@pytest.mark.parametrize(
    ("column", "kind"),
    [
        (pa.array([["a", "b"]], pa.list_(pa.string())), "list"),
        (pa.array([{"x": 1}], pa.struct([("x", pa.int64())])), "struct"),
        (pa.array([[("k", "v")]], pa.map_(pa.string(), pa.string())), "map"),
    ],
)
def test_a_nested_parquet_column_is_an_error_naming_the_column(tmp_path, warehouse, column, kind):
    pq.write_table(
        pa.table({"product_id": ["P1"], "name": column, "category": ["y"], "brand": ["z"], "price": ["1"]}),
        tmp_path / "products.parquet",
    )
    message = load_error(tmp_path, warehouse)
    assert message.startswith(f"{tmp_path / 'products.parquet'}: column 'name' is a nested type ({kind}")


def test_a_corrupt_parquet_file_is_an_error_naming_it(tmp_path, warehouse):
    (tmp_path / "products.parquet").write_bytes(b"PAR1 this is not really parquet")
    assert load_error(tmp_path, warehouse).startswith(f"{tmp_path / 'products.parquet'}: cannot be read as Parquet")


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n"])
def test_an_empty_file_is_an_error_naming_it(tmp_path, warehouse, content):
    (tmp_path / "products.csv").write_bytes(content)
    assert load_error(tmp_path, warehouse) == (
        f"{tmp_path / 'products.csv'}: the file is empty; the first line must be a header row naming the columns"
    )


def test_a_file_that_is_not_csv_at_all_is_an_error_naming_it(tmp_path, warehouse):
    pq.write_table(pa.table({"product_id": ["P1"]}), tmp_path / "real.parquet")
    (tmp_path / "products.csv").write_bytes((tmp_path / "real.parquet").read_bytes())
    assert load_error(tmp_path, warehouse) == f"{tmp_path / 'products.csv'}: is a Parquet file; name it .parquet"
    (tmp_path / "products.csv").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert load_error(tmp_path, warehouse).startswith(f"{tmp_path / 'products.csv'}: ")


def test_a_bad_file_stops_cdp_build_with_one_line_naming_it_and_changes_nothing(tmp_path, capsys, monkeypatch):
    from cdp import cli

    monkeypatch.setenv("CDP_WAREHOUSE", str(tmp_path / "cdp.duckdb"))
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "products.csv").write_bytes((PRODUCTS_HEADER + "\nP1,Café,tops,N,2\n").encode("latin-1"))
    assert cli.main(["build", "--raw-dir", str(tmp_path / "raw"), "--as-of", "2026-11-20T09:00:00Z"]) == 2
    *progress, error = capsys.readouterr().err.splitlines()
    assert (
        error
        == f"cdp build: {tmp_path / 'raw' / 'products.csv'}: line 2: not UTF-8 (byte 0xe9 at byte 7 of the line); "
        "save the file as UTF-8"
    )
    # Before it, only the loader's INFO lines on the files it read.
    assert progress and all(line.startswith("INFO cdp.raw_loader: ") for line in progress), progress
    assert not (tmp_path / "cdp.duckdb").exists() or DuckDBWarehouse(tmp_path / "cdp.duckdb").tables("raw") == []


def test_a_parquet_text_column_that_is_not_utf_8_is_an_error_naming_the_file_and_column(tmp_path, warehouse):
    pq.write_table(
        pa.table(
            {
                "product_id": ["P1"],
                "name": pa.array([b"Caf\xe9"], pa.binary()),
                "category": ["y"],
                "brand": ["z"],
                "price": ["1"],
            }
        ),
        tmp_path / "products.parquet",
    )
    assert load_error(tmp_path, warehouse).startswith(
        f"{tmp_path / 'products.parquet'}: column 'name' cannot be read as text"
    )
