"""The demo stories about identity (seeds/demo/README.md) come out of the graph as told."""

from __future__ import annotations

import pytest

from cdp.explain import explain, render

from .conftest import query

pytestmark = pytest.mark.slow


def person_of(warehouse, identifier_type, value):
    rows = query(
        warehouse,
        "select person_id from marts.bdg_person_identifiers where identifier_type = ? and identifier_value = ?",
        [identifier_type, value],
    )
    assert len(rows) == 1, f"{identifier_type} {value} should have exactly one person"
    return rows[0][0]


def identifiers_of(warehouse, person_id):
    return set(
        query(
            warehouse,
            "select identifier_type, identifier_value from marts.bdg_person_identifiers where person_id = ?",
            [person_id],
        )
    )


def test_tom_is_one_person_across_every_system(demo_warehouse):
    tom = person_of(demo_warehouse, "crm_customer_id", "C1002")
    assert {
        ("loyalty_card_id", "L1002"),
        ("anonymous_id", "anon-1002"),
        ("device_id", "dev-2002"),
        ("payment_fingerprint", "pf-3002"),
        ("email", "tom.baker@example.com"),
        ("phone", "+442079460101"),
    } <= identifiers_of(demo_warehouse, tom)


def test_chloe_guest_checkout_and_account_are_one_person(demo_warehouse):
    assert person_of(demo_warehouse, "crm_customer_id", "C1017") == person_of(demo_warehouse, "phone", "+447911123456")


def test_patel_family_tablet_does_not_merge_two_people(demo_warehouse):
    raj = person_of(demo_warehouse, "crm_customer_id", "C1018")
    anita = person_of(demo_warehouse, "crm_customer_id", "C1019")
    assert raj != anita
    assert person_of(demo_warehouse, "device_id", "dev-2018") in {raj, anita}
    dropped = query(
        demo_warehouse,
        """select drop_reason from intermediate.int_identity_link_outcomes
           where not is_accepted and 'device_id:dev-2018' in (node_key_a, node_key_b)""",
    )
    assert dropped == [("would_exceed_limit",)]


def test_store_phone_is_quarantined_and_six_cards_stay_six_people(demo_warehouse):
    cards = [f"L200{n}" for n in range(1, 7)]
    assert len({person_of(demo_warehouse, "loyalty_card_id", card) for card in cards}) == 6
    assert query(
        demo_warehouse, "select count(*) from marts.bdg_person_identifiers where identifier_value = '+442079460000'"
    ) == [(0,)]
    reasons = query(
        demo_warehouse,
        "select distinct reason, action from marts.fct_quarantined_rows"
        " where source_table = 'pos_transactions' and column_name = 'phone'",
    )
    assert reasons == [("abnormal_degree", "identifier_excluded")]


def test_junk_emails_merge_no_strangers(demo_warehouse):
    guests = [f"anon-300{n}" for n in range(1, 5)]
    assert len({person_of(demo_warehouse, "anonymous_id", guest) for guest in guests}) == 4
    junk = query(
        demo_warehouse,
        "select count(distinct source_key) from marts.fct_quarantined_rows"
        " where source_table = 'orders' and reason = 'junk_identifier'",
    )
    assert junk == [(4,)]


def test_grace_duplicate_crm_record_is_joined_by_a_probabilistic_match(demo_warehouse):
    grace = person_of(demo_warehouse, "crm_customer_id", "C1021")
    assert person_of(demo_warehouse, "crm_customer_id", "C1121") == grace
    assert person_of(demo_warehouse, "loyalty_card_id", "L1021") == grace
    assert query(
        demo_warehouse,
        "select is_exact_links_only from intermediate.int_persons_golden_records where person_id = ?",
        [grace],
    ) == [(False,)]
    tom = person_of(demo_warehouse, "crm_customer_id", "C1002")
    assert query(
        demo_warehouse,
        "select is_exact_links_only from intermediate.int_persons_golden_records where person_id = ?",
        [tom],
    ) == [(True,)]


def test_store_shopper_known_by_payment_card_is_one_person(demo_warehouse):
    receipts = query(
        demo_warehouse,
        "select distinct person_id from intermediate.int_identity_source_row_persons"
        " where source_key in ('R-7090', 'R-7091')",
    )
    assert len(receipts) == 1


def test_golden_record_takes_most_trusted_then_most_recent_value(demo_warehouse):
    tom = person_of(demo_warehouse, "crm_customer_id", "C1002")
    row = query(
        demo_warehouse,
        "select email, phone, first_name, last_name, postal_code"
        " from intermediate.int_persons_golden_records where person_id = ?",
        [tom],
    )
    assert row == [("tom.baker@example.com", "+442079460101", "Tom", "Baker", "E8 3QH")]


def test_explain_shows_identifiers_links_and_dropped_links(demo_warehouse):
    text = render(explain(demo_warehouse, "anita.patel@example.com"))
    assert "C1019" in text
    assert "stg_crm__customers" in text
    assert "would_exceed_limit" in text and "dev-2018" in text
    hub = render(explain(demo_warehouse, "020 7946 0000"))
    assert "abnormal_degree" in hub
