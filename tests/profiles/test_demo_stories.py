"""The demo stories (seeds/demo/README.md) that are about profiles, purchases, loyalty
and lifecycle, checked on the demo warehouse that `make demo` builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import query


def person(warehouse: Path, identifier_type: str, identifier_value: str) -> dict:
    """The dim_persons row of whoever holds the identifier."""
    with_names = query(
        warehouse,
        """
        select column_name from information_schema.columns
        where table_schema = 'marts' and table_name = 'dim_persons' order by ordinal_position""",
    )
    columns = [name for (name,) in with_names]
    rows = query(
        warehouse,
        """
        select dim_persons.* from marts.dim_persons
        inner join marts.bdg_person_identifiers using (person_id)
        where identifier_type = ? and identifier_value = ?""",
        [identifier_type, identifier_value],
    )
    assert len(rows) == 1, f"expected one person for {identifier_type} {identifier_value}, found {len(rows)}"
    return dict(zip(columns, rows[0], strict=True))


def customer(warehouse: Path, crm_customer_id: str) -> dict:
    return person(warehouse, "crm_customer_id", crm_customer_id)


def test_maria_store_purchase_counts_for_her(demo_warehouse):
    maria = customer(demo_warehouse, "C1001")
    channels = {
        channel
        for (channel,) in query(
            demo_warehouse, "select channel from marts.fct_purchases where person_id = ?", [maria["person_id"]]
        )
    }
    assert "store" in channels
    assert maria["last_purchase_at"].date().isoformat() == "2026-11-19"


def test_isla_lifetime_value_is_net_of_the_online_order_returned_in_store(demo_warehouse):
    isla = customer(demo_warehouse, "C1020")
    ((gross, returned, net, returns_in_store),) = query(
        demo_warehouse,
        """
        select gross_amount, returned_amount, net_amount, store_return_count
        from marts.fct_purchases
        where person_id = ? and channel in ('web', 'app') and purchased_at >= '2026-10-01'
            and purchased_at < '2026-10-02'""",
        [isla["person_id"]],
    )
    ((refund,),) = query(
        demo_warehouse,
        """
        select return_amount from intermediate.int_store_returns_matched
        where person_id = ? and match_method = 'product'""",
        [isla["person_id"]],
    )
    assert returns_in_store == 1 and returned == min(refund, gross) and net == gross - returned
    ((total_net,),) = query(
        demo_warehouse, "select sum(net_amount) from marts.fct_purchases where person_id = ?", [isla["person_id"]]
    )
    assert isla["lifetime_value"] == total_net


def test_jack_cancelled_order_is_not_a_purchase(demo_warehouse):
    cancelled = [
        order
        for (order,) in query(
            demo_warehouse,
            """
        select order_id from staging.stg_shop__orders where crm_customer_id = 'C1022' and order_status = 'cancelled'""",
        )
    ]
    assert cancelled
    found = query(
        demo_warehouse,
        f"select count(*) from marts.fct_purchases where order_id in ({', '.join('?' * len(cancelled))})",
        cancelled,
    )
    assert found == [(0,)]
    jack = customer(demo_warehouse, "C1022")
    ((orders_kept,),) = query(
        demo_warehouse,
        """
        select count(*) from staging.stg_shop__orders where crm_customer_id = 'C1022'
            and order_status <> 'cancelled'""",
    )
    assert jack["purchase_count"] == orders_kept


def test_sophie_has_five_purchases(demo_warehouse):
    sophie = customer(demo_warehouse, "C1011")
    assert sophie["purchase_count"] == 5
    assert sophie["is_repeat_purchaser"]


@pytest.mark.parametrize(
    "crm_customer_id, stage",
    [
        ("C1005", "lapsed"),  # helen_lapsed_online
        ("C1016", "at_risk"),  # oliver_churn_risk
        ("C1012", "prospect"),  # liam_new_signup
    ],
)
def test_lifecycle_stages_of_the_stories(demo_warehouse, crm_customer_id, stage):
    assert customer(demo_warehouse, crm_customer_id)["lifecycle_stage"] == stage


def test_george_lapsed_in_store_with_his_points_expired(demo_warehouse):
    george = person(demo_warehouse, "loyalty_card_id", "L1006")
    assert george["lifecycle_stage"] == "lapsed"
    ((earned,),) = query(
        demo_warehouse,
        "select sum(points) from staging.stg_loyalty__point_entries where loyalty_card_id = 'L1006' and points > 0",
    )
    assert 0 <= george["points_balance"] < earned


def test_olivia_is_near_the_next_tier(demo_warehouse):
    olivia = customer(demo_warehouse, "C1007")
    assert olivia["is_near_next_tier"]
    ((card_tier, next_tier, to_go),) = query(
        demo_warehouse,
        "select loyalty_tier, next_tier, points_to_next_tier from marts.dim_loyalty_cards where "
        "loyalty_card_id = 'L1007'",
    )
    assert (card_tier, next_tier) == ("member", "silver") and 0 < to_go <= 100


def test_ahmed_has_points_expiring_within_the_window(demo_warehouse):
    ahmed = customer(demo_warehouse, "C1010")
    assert ahmed["has_points_expiring_soon"]
    # The 50 points he redeemed came out of his oldest (first-expiring) points.
    assert 0 < ahmed["points_expiring_soon"] <= ahmed["points_balance"]


def test_ava_upgrade_to_gold_is_a_tier_change(demo_warehouse):
    ava = customer(demo_warehouse, "C1015")
    assert ava["loyalty_tier"] == "gold"
    changes = query(
        demo_warehouse,
        """
        select from_tier, to_tier, cast(changed_at as date), change_direction from marts.fct_loyalty_tier_changes
        where person_id = ? order by changed_at""",
        [ava["person_id"]],
    )
    assert changes[-1][1:] == ("gold", __import__("datetime").date(2026, 11, 10), "upgrade")


def test_priya_email_revoked_sms_kept(demo_warehouse):
    priya = customer(demo_warehouse, "C1003")
    assert not priya["consent_email"] and priya["consent_sms"]
    assert priya["consent_transactional_email"]


def test_ethan_is_erased_and_unreachable(demo_warehouse):
    ethan = customer(demo_warehouse, "C1023")
    assert ethan["is_erased"]
    assert ethan["email"] is None and ethan["phone"] is None
    assert not any(
        value for name, value in ethan.items() if name.startswith("consent_") and name != "consent_updated_at"
    )


def test_lucas_prefers_whatsapp(demo_warehouse):
    assert customer(demo_warehouse, "C1024")["preferred_channel"] == "whatsapp"


def test_hannah_is_a_detractor_and_email_is_not_her_preferred_channel(demo_warehouse):
    hannah = customer(demo_warehouse, "C1028")
    assert hannah["nps_class"] == "detractor"
    assert hannah["preferred_channel"] != "email"


def test_zoe_is_a_champion_and_a_promoter(demo_warehouse):
    zoe = customer(demo_warehouse, "C1027")
    assert zoe["rfm_segment"] == "champions" and zoe["nps_class"] == "promoter"


def test_james_has_an_open_ticket(demo_warehouse):
    assert customer(demo_warehouse, "C1004")["open_support_tickets"] >= 1


@pytest.mark.parametrize(
    "crm_customer_id, column",
    [
        ("C1025", "consent_app_push"),  # mia_app_push
        ("C1026", "consent_web_push"),  # leo_web_push (given by customer id)
        ("C1015", "consent_whatsapp"),  # ava_tier_upgrade (phone in E.164)
    ],
)
def test_push_and_whatsapp_consents(demo_warehouse, crm_customer_id, column):
    assert customer(demo_warehouse, crm_customer_id)[column]


def test_every_person_is_in_dim_persons_once_with_a_lifecycle_stage(demo_warehouse):
    ((persons, rows, staged),) = query(
        demo_warehouse,
        """
        select (select count(distinct person_id) from marts.bdg_person_identifiers), count(*), count(lifecycle_stage)
        from marts.dim_persons""",
    )
    assert persons == rows == staged
