"""Every kind of bad row, fed through the real build: where does each one land?"""

# The CSV fixtures are one record a line, as the files are: their long lines stay whole.
# ruff: noqa: E501

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest

from cdp.contract import raw_contract
from cdp.dbt_runner import manifest_path
from tests.conftest import build_warehouse, query

AS_OF = datetime(2026, 11, 20, 9, 0, 0)

RAW_FILES = {
    "crm_customers.csv": """customer_id,email,phone,first_name,last_name,birth_date,street,city,postal_code,country,created_at,updated_at
C1, Ann.Lee@Example.COM ,020 7946 0123,Ann,Lee,1990-02-01,,London,,GB,2025-01-01T10:00:00Z,2025-02-01T10:00:00+01:00
C2,not-an-email,12345,Bob,Ray,1990-02-30,,Leeds,,GB,2025-01-01T10:00:00Z,
,nokey@example.com,,,,,,,,GB,2025-01-01T10:00:00Z,
C3,c3@example.com,,,,,,,,GB,2030-01-01T00:00:00Z,
C4,c4-old@example.com,,,,,,,,GB,2025-01-01T00:00:00Z,2025-01-02T00:00:00Z
C4,c4-new@example.com,,,,,,,,GB,2025-01-01T00:00:00Z,2025-03-02T00:00:00Z
C5,c5@example.com,,,,,,,,GB,,
C6,c6@example.com,,,,,,,,GB,yesterday,
C7,c7@example.com,,,,,,,,GB,-infinity,
C8,c8@example.com,,,,2090-01-01,,,,XX,2025-01-01T10:00:00Z,epoch
C9,c9@example.com,,,,1850-05-05,,,,"""
    + "G" * 100_000
    + """,2025-01-01T10:00:00Z,
C10,c10@example.com,,,,,,,,GB,2025-01-01T00:00:00Z,9999-12-31T00:00:00Z
""",
    "stores.csv": """store_id,name,city,country,latitude,longitude
S1,Main,Leeds,GB,1e400,-1.5
S2,Mall,Leeds,gb,95,-200
S3,Shop,Leeds,GB,nan,-inf
S4,Park,Leeds,GB,53.8,-1.5
""",
    "web_events.csv": """event_id,anonymous_id,customer_id,email,event_type,product_id,order_id,quantity,price,occurred_at,page_url,utm_source,utm_medium,utm_campaign
W1,a1,,,page_view,,,,,2026-11-19T10:00:00Z,,,,
W1,a1,,,page_view,,,,,2026-11-19T10:00:00Z,,,,
W2,a1,,,wishlist_add,,,,,2026-11-19T10:00:00Z,,,,
W3,a1,,,add_to_cart,P1,,two,9.99,2026-11-19T10:00:00Z,,,,
""",
    "orders.csv": """order_id,customer_id,email,phone,anonymous_id,channel,ordered_at,status,currency,total_amount,discount_amount,coupon_code
O1,C1,,,,web,2026-11-01T10:00:00Z,delivered,GBP,12.50,,
O2,C1,,,,web,2026-11-01T10:00:00Z,delivered,GBP,"12,50",,
O3,C1,,,,web,2026-11-01T10:00:00Z,delivered,GBP,-3.00,,
O4,C1,,,,fax,2026-11-01T10:00:00Z,delivered,GBP,3.00,,
O5,C1,,,,web,epoch,delivered,GBP,3.00,,
O6,C1,,,,web,1850-01-01T00:00:00Z,delivered,GBP,3.00,,
O7,C1,,,,web,infinity,delivered,GBP,3.00,,
""",
    "survey_responses.csv": """response_id,customer_id,email,score,comment,responded_at
N1,C1,,11,,2026-11-01T10:00:00Z
N2,C1,,9,,2026-11-01T10:00:00Z
""",
    "consents.csv": """subject_type,subject_value,channel,purpose,status,recorded_at,source
email,ann.lee@example.com,email,marketing,granted,2026-01-01T10:00:00Z,form
email,not-an-address,email,marketing,granted,2026-01-01T10:00:00Z,form
phone,020 7946 0123,sms,marketing,granted,2026-01-01T10:00:00Z,form
phone,020 7946 0123,sms,marketing,revoked,2026-01-01T10:00:00Z,form
""",
    "support_tickets.csv": """ticket_id,customer_id,email,phone,opened_at,closed_at,status,topic,csat_score
T1,C1,,,2026-11-01T10:00:00Z,,open,late,9
T2,C1,,,2026-11-01T10:00:00Z,,open
""",
}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    raw_dir = tmp_path_factory.mktemp("raw")
    for name, text in RAW_FILES.items():
        (raw_dir / name).write_text(text)
    return build_warehouse(tmp_path_factory.mktemp("wh") / "cdp.duckdb", raw_dir, AS_OF)


def quarantined(warehouse: Path) -> set[tuple]:
    return set(
        query(warehouse, "select source_table, source_key, reason, column_name, action from marts.fct_quarantined_rows")
    )


EXPECTED = {
    ("crm_customers", "C2", "invalid_email", "email", "value_nulled"),
    ("crm_customers", "C2", "invalid_phone", "phone", "value_nulled"),
    ("crm_customers", "C2", "invalid_optional_value", "birth_date", "value_nulled"),
    ("crm_customers", "", "null_key", "crm_customer_id", "row_quarantined"),
    ("crm_customers", "C3", "timestamp_after_as_of", "created_at", "row_quarantined"),
    ("crm_customers", "C4", "duplicate_key", "crm_customer_id", "row_quarantined"),
    ("crm_customers", "C5", "missing_required_value", "created_at", "row_quarantined"),
    ("crm_customers", "C6", "unparseable_required_value", "created_at", "row_quarantined"),
    ("crm_customers", "C7", "unparseable_required_value", "created_at", "row_quarantined"),
    ("crm_customers", "C8", "invalid_optional_value", "birth_date", "value_nulled"),
    ("crm_customers", "C8", "invalid_optional_value", "country_code", "value_nulled"),
    ("crm_customers", "C8", "invalid_optional_value", "updated_at", "value_nulled"),
    ("crm_customers", "C9", "invalid_optional_value", "birth_date", "value_nulled"),
    ("crm_customers", "C9", "invalid_optional_value", "country_code", "value_nulled"),
    ("crm_customers", "C10", "invalid_optional_value", "updated_at", "value_nulled"),
    ("stores", "S1", "invalid_optional_value", "latitude", "value_nulled"),
    ("stores", "S2", "invalid_optional_value", "latitude", "value_nulled"),
    ("stores", "S2", "invalid_optional_value", "longitude", "value_nulled"),
    ("stores", "S3", "invalid_optional_value", "latitude", "value_nulled"),
    ("stores", "S3", "invalid_optional_value", "longitude", "value_nulled"),
    ("web_events", "W1", "exact_duplicate", None, "row_deduplicated"),
    ("web_events", "W2", "unknown_enum_value", "event_type", "row_quarantined"),
    ("web_events", "W3", "invalid_optional_value", "quantity", "value_nulled"),
    ("orders", "O2", "unparseable_required_value", "total_amount", "row_quarantined"),
    ("orders", "O3", "out_of_range_value", "total_amount", "row_quarantined"),
    ("orders", "O4", "unknown_enum_value", "channel", "row_quarantined"),
    ("orders", "O5", "unparseable_required_value", "ordered_at", "row_quarantined"),
    ("orders", "O6", "unparseable_required_value", "ordered_at", "row_quarantined"),
    ("orders", "O7", "unparseable_required_value", "ordered_at", "row_quarantined"),
    ("survey_responses", "N1", "out_of_range_value", "nps_score", "row_quarantined"),
    (
        "consents",
        "email||email|marketing|2026-01-01 10:00:00",
        "invalid_subject_value",
        "subject_value",
        "row_quarantined",
    ),
    (
        "consents",
        "phone|+442079460123|sms|marketing|2026-01-01 10:00:00",
        "duplicate_key",
        "subject_type,subject_value,channel,purpose,recorded_at",
        "row_quarantined",
    ),
    ("support_tickets", "T1", "invalid_optional_value", "csat_score", "value_nulled"),
    ("support_tickets", "1", "malformed_line", None, "row_quarantined"),
}


def test_each_bad_row_lands_in_quarantine_with_its_reason(warehouse):
    assert quarantined(warehouse) == EXPECTED


def test_kept_rows_are_clean_and_nulled_values_are_null(warehouse):
    customers = dict(
        (row[0], row[1:])
        for row in query(
            warehouse, "select crm_customer_id, email, phone, birth_date, updated_at from staging.stg_crm__customers"
        )
    )
    assert set(customers) == {"C1", "C2", "C4", "C8", "C9", "C10"}
    assert customers["C1"][:2] == ("ann.lee@example.com", "+442079460123")
    # An offset is converted to UTC.
    assert customers["C1"][3] == datetime(2025, 2, 1, 9, 0, 0)
    assert customers["C2"][:3] == (None, None, None)
    # The most recently updated of two rows with one key wins.
    assert customers["C4"][0] == "c4-new@example.com"
    assert query(warehouse, "select web_event_id, quantity from staging.stg_web__events order by 1") == [
        ("W1", None),
        ("W3", None),
    ]


def test_sentinel_dates_absurd_numbers_and_unknown_countries_are_nulled_in_kept_rows(warehouse):
    customers = query(
        warehouse,
        "select crm_customer_id, birth_date, country_code, updated_at = created_at from staging.stg_crm__customers"
        " where crm_customer_id in ('C1', 'C8', 'C9', 'C10') order by 1",
    )
    assert customers == [
        ("C1", date(1990, 2, 1), "GB", False),
        ("C10", None, "GB", True),
        ("C8", None, None, True),
        ("C9", None, None, True),
    ]
    stores = query(warehouse, "select store_id, country_code, latitude, longitude from staging.stg_catalog__stores")
    assert sorted(stores) == [
        ("S1", "GB", None, -1.5),
        ("S2", "GB", None, None),
        ("S3", "GB", None, None),
        ("S4", "GB", 53.8, -1.5),
    ]


def test_iso_3166_has_every_code_even_namibia(warehouse):
    codes = {code for (code,) in query(warehouse, "select country_code from config.iso_3166_countries")}
    assert len(codes) == 249
    assert {"GB", "NA", "US", "XK"} - codes == {"XK"}


def test_a_conflicting_grant_and_revocation_keeps_the_revocation(warehouse):
    assert query(warehouse, "select consent_status from staging.stg_privacy__consents where channel = 'sms'") == [
        ("revoked",)
    ]


def base_models_by_raw_table() -> dict[str, str]:
    manifest = json.loads(manifest_path().read_text())
    mapping = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["name"].startswith("base_"):
            # Reference seeds (the ISO 3166 codes) are dependencies too; the source is one.
            (source_id,) = [node_id for node_id in node["depends_on"]["nodes"] if node_id.startswith("source.")]
            mapping[manifest["sources"][source_id]["name"]] = node["name"]
    return mapping


def test_nothing_is_dropped_silently(warehouse):
    """Each raw row is either in its staging model or quarantined as a row."""
    base_models = base_models_by_raw_table()
    assert set(base_models) == set(raw_contract())
    for table, base in base_models.items():
        raw = query(warehouse, f"select count(*) from raw.{table}")[0][0]
        staged = query(warehouse, f"select count(*) from staging.{base.replace('base_', 'stg_', 1)}")[0][0]
        rejected = query(
            warehouse,
            "select count(*) from marts.fct_quarantined_rows where source_table = ? "
            "and action <> 'value_nulled' and reason <> 'malformed_line'",
            [table],
        )[0][0]
        assert raw == staged + rejected, table


def test_the_as_of_time_decides_what_is_in_the_future(tmp_path):
    raw_dir = tmp_path / "raw"
    raw_dir.mkdir()
    (raw_dir / "crm_customers.csv").write_text(RAW_FILES["crm_customers.csv"])
    earlier = build_warehouse(tmp_path / "cdp.duckdb", raw_dir, datetime(2025, 1, 1, 9, 0, 0))
    future = {
        key
        for (key,) in query(
            earlier, "select source_key from marts.fct_quarantined_rows where reason = 'timestamp_after_as_of'"
        )
    }
    # C1, C2, C8 and C9 were created at 10:00 that day, C3 in 2030; C4 at midnight is in
    # the past, C7 (-infinity) is no time at all.
    assert future == {"C1", "C2", "C3", "C8", "C9"}
