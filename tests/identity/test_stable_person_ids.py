"""person_id survives rebuilds, a merge keeps the older id and is logged, a split leaves the id with the larger part."""

from __future__ import annotations

import csv

import pytest

from cdp.dbt_runner import run_dbt

from .conftest import build_into, query, warehouse_at

pytestmark = pytest.mark.slow

AS_OF = "2026-11-20T09:00:00Z"


def persons(warehouse) -> dict[tuple[str, str], str]:
    rows = query(warehouse, "select identifier_type, identifier_value, person_id from marts.bdg_person_identifiers")
    return {(kind, value): person for kind, value, person in rows}


def edit_csv(path, edit) -> None:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields, rows = reader.fieldnames, list(reader)
    rows = edit(rows)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def test_ids_survive_rebuilds_merges_splits_and_full_refresh(demo_copy, tmp_path):
    # Without the demo's erasure request: it is applied at the second build (docs/privacy.md),
    # which would take a person away between the two builds that must agree.
    edit_csv(demo_copy / "erasure_requests.csv", lambda rows: [])
    warehouse = tmp_path / "cdp.duckdb"
    build_into(warehouse, demo_copy, AS_OF)
    first = persons(warehouse)
    log_rows = query(warehouse, "select count(*) from intermediate.int_identity_person_assignments")[0][0]

    # 1. unchanged input: same ids, nothing appended to the log
    build_into(warehouse, demo_copy, AS_OF)
    assert persons(warehouse) == first
    assert query(warehouse, "select count(*) from intermediate.int_identity_person_assignments")[0][0] == log_rows

    # 2. a merge and a split in one new build:
    #    George's card is used with the payment card of the "store shopper known by payment card";
    #    Zoe's loyalty enrolment loses its CRM id and e-mail, so her card leaves her person.
    george = first[("loyalty_card_id", "L1006")]
    shopper = first[("payment_fingerprint", "pf-3090")]
    zoe = first[("crm_customer_id", "C1027")]
    assert george != shopper and first[("loyalty_card_id", "L1027")] == zoe
    edit_csv(
        demo_copy / "pos_transactions.csv",
        lambda rows: (
            [
                *rows,
                {
                    **rows[0],
                    "receipt_id": "R-9999",
                    "loyalty_card_id": "L1006",
                    "payment_fingerprint": "pf-3090",
                    "transacted_at": "2026-11-15T10:00:00Z",
                },
            ]
        ),
    )
    edit_csv(
        demo_copy / "loyalty_members.csv",
        lambda rows: [
            {**row, "customer_id": "", "email": ""} if row["loyalty_card_id"] == "L1027" else row for row in rows
        ],
    )
    build_into(warehouse, demo_copy, "2026-11-21T09:00:00Z")
    second = persons(warehouse)

    # the older person (George, seen since 2023) keeps his id; the shopper's id is merged into it
    assert second[("payment_fingerprint", "pf-3090")] == george == second[("loyalty_card_id", "L1006")]
    merges = query(
        warehouse,
        """select loser_person_id, winner_person_id, merged_at, link_kind,
                  link_identifier_type_a, link_identifier_value_a, link_identifier_type_b, link_identifier_value_b
           from marts.fct_person_merges""",
    )
    assert merges == [
        (shopper, george, merges[0][2], "exact", "loyalty_card_id", "L1006", "payment_fingerprint", "pf-3090")
    ]
    assert str(merges[0][2]).startswith("2026-11-21")

    # Zoe keeps her id with most of her identifiers; the card and its payment card get a new one
    assert second[("crm_customer_id", "C1027")] == zoe
    assert second[("loyalty_card_id", "L1027")] not in (zoe, george, shopper)
    assert second[("payment_fingerprint", "pf-3027")] == second[("loyalty_card_id", "L1027")]
    splits = query(
        warehouse,
        "select distinct previous_person_id from intermediate.int_identity_person_assignments where change = 'split'",
    )
    assert splits == [(zoe,)]

    # everyone the changes did not touch keeps their id
    untouched = {key: person for key, person in first.items() if person not in (george, shopper, zoe)}
    assert {key: second[key] for key in untouched} == untouched

    # 3. --full-refresh does not wipe identity state
    with warehouse_at(warehouse):
        run_dbt(
            ["build", "--full-refresh", "--select", "int_identity_person_assignments+"],
            dbt_vars={"cdp__as_of": "2026-11-21 09:00:00"},
        )
    assert persons(warehouse) == second
    assert len(query(warehouse, "select * from marts.fct_person_merges")) == 1
