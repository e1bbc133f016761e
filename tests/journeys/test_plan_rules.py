"""Every rule of the message plan, each hit by a person built for it (docs/activation.md).

All persons live in one set of inputs, planned once by the compiled models (as of
Friday 2026-11-20 09:00 UTC; London is on UTC then, the local week runs Monday 16 to
Sunday 22 November). Expected values follow from the shipped journey configuration.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.journeys.conftest import person_id
from tests.journeys.plan_harness import AS_OF, PlanInputs, PlanResult

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
MOBILE = "+447911123456"
LANDLINE = "+442079460924"
LAPSED_SINCE = datetime(2026, 5, 1, 10, 0)

ids: dict[str, str] = {}


def person(inputs: PlanInputs, story: str, *, global_control=False, held_out_of=(), **attributes) -> str:
    ids[story] = person_id(story, global_control=global_control, held_out_of=held_out_of)
    return inputs.person(ids[story], **attributes)


def abandoned_cart(inputs: PlanInputs, who: str, products: tuple[str, ...], last_activity: datetime) -> None:
    for product in products:
        inputs.web_event(who, "add_to_cart", last_activity - timedelta(minutes=5), product)
    inputs.web_event(who, "checkout_started", last_activity)


def points_lot(inputs: PlanInputs, who: str, card: str, points: int, expires_at: datetime) -> None:
    inputs.identifier(who, "loyalty_card_id", card)
    inputs.add(
        "staging",
        "stg_loyalty__point_entries",
        loyalty_point_entry_id=f"E-{card}",
        loyalty_card_id=card,
        points=points,
        reason="purchase",
        occurred_at=expires_at - timedelta(days=365),
        expires_at=expires_at,
    )


@pytest.fixture(scope="module")
def planned(plan) -> PlanResult:
    inputs = PlanInputs()
    inputs.fresh_sources()

    who = person(inputs, "erased", is_erased=True)
    inputs.member("new_signups", who, AS_OF - 4 * HOUR)

    who = person(inputs, "sent_welcome", marketing=("email",), email="a@example.com", phone=MOBILE)
    occurrence = inputs.member("new_signups", who, AS_OF - 4 * HOUR)
    inputs.sent(who, "welcome", occurrence, 1, AS_OF - 3 * HOUR)

    survivor = person(inputs, "merge_survivor", email="s@example.com")
    occurrence = inputs.member("new_signups", survivor, AS_OF - 4 * HOUR)
    inputs.add(
        "intermediate",
        "int_person_ids_resolved",
        issued_person_id=survivor,
        current_person_id=survivor,
        is_merged_away=False,
    )
    inputs.add(
        "intermediate",
        "int_person_ids_resolved",
        issued_person_id="p_merged_away",
        current_person_id=survivor,
        is_merged_away=True,
    )
    inputs.sent(survivor, "welcome", occurrence, 1, AS_OF - 3 * HOUR, recorded_person_id="p_merged_away")

    who = person(inputs, "no_consent", email="b@example.com")
    inputs.member("at_risk_customers", who, AS_OF - 10 * DAY)

    who = person(inputs, "no_address", marketing=("sms",))
    inputs.member("at_risk_customers", who, AS_OF - 10 * DAY)

    who = person(inputs, "open_ticket", marketing=("email",), email="c@example.com", open_support_tickets=1)
    inputs.member("at_risk_customers", who, AS_OF - 10 * DAY)
    points_lot(inputs, who, "L-ticket", 100, AS_OF + 20 * DAY)

    who = person(inputs, "cart_bought_in_store", marketing=("email",), email="d@example.com")
    abandoned_cart(inputs, who, ("P001",), AS_OF - 20 * HOUR)
    inputs.purchase(who, AS_OF - 15 * HOUR, ("P001",), channel="store")

    who = person(inputs, "held_out", held_out_of=("churn_risk",), marketing=("email",), email="e@example.com")
    inputs.member("at_risk_customers", who, AS_OF - 10 * DAY)

    who = person(inputs, "global_control", global_control=True, marketing=("email",), email="f@example.com")
    inputs.member("at_risk_customers", who, AS_OF - 10 * DAY)
    points_lot(inputs, who, "L-control", 100, AS_OF + 20 * DAY)

    who = person(inputs, "late_evening_london", marketing=("email",), email="g@example.com")
    inputs.purchase(who, datetime(2026, 11, 15, 22, 30), ("P002",), channel="store")

    who = person(inputs, "late_evening_new_york", marketing=("email",), email="h@example.com", country_code="US")
    inputs.purchase(who, datetime(2026, 11, 16, 2, 0), ("P002",), channel="store")

    who = person(inputs, "cart_and_win_back", marketing=("email",), email="i@example.com")
    inputs.member("lapsed_customers", who, LAPSED_SINCE)
    abandoned_cart(inputs, who, ("P002",), AS_OF - 5 * HOUR)

    who = person(inputs, "week_full", marketing=("email",), email="j@example.com")
    for day in (16, 17, 18):
        inputs.sent(who, "newsletter", f"issue-{day}", 1, datetime(2026, 11, day, 10, 0))
    abandoned_cart(inputs, who, ("P003",), AS_OF - 5 * HOUR)

    who = person(inputs, "coupon_already_sent", marketing=("email", "app_push"), email="k@example.com")
    inputs.identifier(who, "push_token", "token-k")
    inputs.sent(who, "cart_abandonment", "cart|P009", 2, AS_OF - 5 * DAY, channel="email")
    abandoned_cart(inputs, who, ("P003",), AS_OF - 3 * HOUR)

    who = person(inputs, "ignored_win_back", marketing=("email", "sms"), email="l@example.com", phone=MOBILE)
    occurrence = inputs.member("lapsed_customers", who, LAPSED_SINCE)
    inputs.sent(who, "win_back", occurrence, 1, datetime(2026, 11, 12, 9, 0), message_id="M-ignored")

    who = person(inputs, "opened_win_back", marketing=("email", "sms"), email="m@example.com", phone=MOBILE)
    occurrence = inputs.member("lapsed_customers", who, LAPSED_SINCE)
    inputs.sent(who, "win_back", occurrence, 1, datetime(2026, 11, 12, 9, 0), message_id="M-opened")
    inputs.engaged(who, "email", "M-opened", datetime(2026, 11, 12, 10, 0))

    who = person(inputs, "two_purchases", marketing=("email",), email="n@example.com")
    inputs.purchase(who, AS_OF - 10 * DAY, ("P004",), channel="store")
    inputs.purchase(who, AS_OF - 8 * DAY, ("P005",), channel="store")

    who = person(inputs, "browsed_again", marketing=("email",), email="o@example.com")
    inputs.sent(who, "browse_abandonment", "browse|P010", 1, AS_OF - 2 * DAY)
    inputs.web_event(who, "product_view", AS_OF - 10 * HOUR, "P004")

    who = person(inputs, "same_cart_again", marketing=("email",), email="p@example.com")
    inputs.sent(who, "cart_abandonment", "cart|P005", 1, AS_OF - 20 * HOUR)
    abandoned_cart(inputs, who, ("P005",), AS_OF - 2 * HOUR)

    who = person(inputs, "grown_cart", marketing=("email",), email="q@example.com")
    inputs.sent(who, "cart_abandonment", "cart|P005", 1, AS_OF - 20 * HOUR)
    abandoned_cart(inputs, who, ("P005", "P006"), AS_OF - 2 * HOUR)

    who = person(inputs, "old_purchase", marketing=("email",), email="r@example.com")
    inputs.purchase(who, datetime(2026, 11, 7, 12, 0), ("P007",), channel="store")

    who = person(inputs, "transactional_only", email="s2@example.com")
    points_lot(inputs, who, "L-transactional", 80, AS_OF + 10 * DAY)

    who = person(inputs, "whatsapp_without_opt_in", marketing=("whatsapp",), phone=MOBILE)
    inputs.member("at_risk_customers", who, AS_OF - 10 * DAY)

    who = person(inputs, "whatsapp_opted_in", marketing=("whatsapp",), phone=LANDLINE)
    inputs.member("at_risk_customers", who, AS_OF - 10 * DAY)
    inputs.whatsapp_opt_in(LANDLINE, AS_OF - 100 * DAY)

    who = person(inputs, "push_opted_out", marketing=("app_push",))
    inputs.identifier(who, "push_token", "token-out")
    inputs.app_event(who, "push_opt_in", AS_OF - 30 * DAY, push_token="token-out")
    inputs.app_event(who, "push_opt_out", AS_OF - 3 * DAY, push_token="token-out")
    inputs.member("at_risk_customers", who, AS_OF - 10 * DAY)

    inputs.whatsapp_opt_in("+447911123457", AS_OF - 100 * DAY)
    who = person(
        inputs,
        "prefers_whatsapp",
        marketing=("email", "whatsapp"),
        email="t@example.com",
        phone="+447911123457",
        preferred_channel="whatsapp",
    )
    inputs.member("at_risk_customers", who, AS_OF - 10 * DAY)

    who = person(inputs, "zone_from_phone", country_code=None, phone="+12125551234")
    who = person(inputs, "zone_from_store", country_code=None)
    inputs.add("staging", "stg_catalog__stores", store_id="S-BERLIN", country_code="DE")
    inputs.purchase(who, AS_OF - 40 * DAY, ("P001",), channel="store", store_id="S-BERLIN")
    who = person(inputs, "zone_by_default", country_code=None)

    # Lives in Leeds, shops in Berlin: the message names the Leeds store, the time zone is still London's.
    inputs.add(
        "staging",
        "stg_catalog__stores",
        store_id="S-LEEDS",
        store_name="Leeds Briggate",
        city="Leeds",
        country_code="GB",
    )
    inputs.add(
        "staging",
        "stg_catalog__stores",
        store_id="S-LEEDS-2",
        store_name="Leeds Trinity",
        city="Leeds",
        country_code="GB",
    )
    who = person(inputs, "lapsed_in_leeds", city=" leeds ")
    inputs.purchase(who, AS_OF - 200 * DAY, ("P002",), channel="store", store_id="S-BERLIN")
    inputs.purchase(who, AS_OF - 190 * DAY, ("P003",), channel="store", store_id="S-BERLIN")
    inputs.purchase(who, AS_OF - 180 * DAY, ("P004",), channel="store", store_id="S-LEEDS-2")
    inputs.member("lapsed_customers", who, AS_OF - 2 * DAY)
    return plan(inputs)


def test_erased_persons_get_nothing(planned):
    assert {(r["step"], r["suppression_reason"]) for r in planned.of(ids["erased"])} == {(1, "erased"), (2, "erased")}


def test_a_sent_step_is_already_sent_and_the_next_waits_from_the_send(planned):
    first, second = planned.of(ids["sent_welcome"], "welcome")
    assert (first["status"], first["suppression_reason"], first["channel_reason"]) == (
        "suppressed",
        "already_sent",
        "sent",
    )
    assert first["send_after"] == AS_OF - 3 * HOUR
    # Ten minutes after the actual send; welcome is transactional: no cap, and SMS is the
    # least intrusive of its conversational channels (whatsapp, sms).
    assert second["due_at"] == AS_OF - 3 * HOUR + timedelta(minutes=10)
    assert (second["status"], second["channel"], second["channel_reason"]) == ("planned", "sms", "least_intrusive")
    assert second["send_after"] == AS_OF  # never placed before the plan's own moment


def test_a_message_sent_to_a_person_since_merged_away_counts_as_sent(planned):
    assert planned.one(ids["merge_survivor"], "welcome")["suppression_reason"] == "already_sent"


def test_no_consent_and_no_address(planned):
    no_consent = planned.one(ids["no_consent"], "churn_risk")
    assert (no_consent["channel"], no_consent["suppression_reason"]) == ("email", "no_consent")
    no_address = planned.one(ids["no_address"], "churn_risk")
    assert (no_address["channel"], no_address["suppression_reason"], no_address["reachability_reason"]) == (
        "sms",
        "no_address",
        "no_phone",
    )


def test_an_open_ticket_stops_promotions_only(planned):
    assert planned.one(ids["open_ticket"], "churn_risk")["suppression_reason"] == "open_support_ticket"
    assert planned.one(ids["open_ticket"], "points_expiring")["status"] == "planned"


def test_a_store_purchase_of_the_carts_product_ends_the_cart_journey(planned):
    rows = planned.of(ids["cart_bought_in_store"], "cart_abandonment")
    assert [(r["step"], r["suppression_reason"]) for r in rows] == [(1, "goal_reached"), (2, "goal_reached")]
    assert rows[0]["goal_met_at"] == AS_OF - 15 * HOUR


def test_holdouts_are_suppressed_rows_with_the_message_they_would_have_had(planned):
    held = planned.one(ids["held_out"], "churn_risk")
    assert (held["suppression_reason"], held["channel"], held["send_after"]) == ("holdout", "email", AS_OF)
    control = planned.of(ids["global_control"])
    assert {(r["journey"], r["status"], r["suppression_reason"]) for r in control} == {
        ("churn_risk", "suppressed", "global_control"),
        ("points_expiring", "planned", None),  # transactional messages still go to the control group
    }


def test_quiet_hours_defer_to_the_end_of_the_window_in_the_persons_time_zone(planned):
    london = planned.one(ids["late_evening_london"], "post_purchase_feedback")
    assert london["due_at"] == datetime(2026, 11, 20, 22, 30)  # five days after the receipt
    assert (london["send_after"], london["deferred_by"]) == (datetime(2026, 11, 21, 8, 0), "quiet_hours")
    assert london["deferred_minutes"] == 9 * 60 + 30
    new_york = planned.one(ids["late_evening_new_york"], "post_purchase_feedback")
    # Due 02:00 UTC on the 21st, 21:00 the evening before in New York: 08:00 there, 13:00 UTC.
    assert (new_york["time_zone"], new_york["send_after"], new_york["deferred_by"]) == (
        "America/New_York",
        datetime(2026, 11, 21, 13, 0),
        "quiet_hours",
    )


def test_a_cap_collision_goes_to_the_higher_priority_and_defers_the_other(planned):
    who = ids["cart_and_win_back"]
    cart_reminder, cart_coupon = planned.of(who, "cart_abandonment")
    win_back = planned.one(who, "win_back")
    assert (cart_reminder["status"], cart_reminder["send_after"]) == ("planned", AS_OF)
    # The coupon a day after the reminder keeps Saturday; win-back (priority 20 < 90) gets Sunday's slot.
    assert (cart_coupon["status"], cart_coupon["send_after"]) == ("planned", AS_OF + DAY)
    assert (win_back["status"], win_back["deferred_by"], win_back["cap_slot_day"]) == ("planned", "frequency_cap", 2)
    assert win_back["send_after"] == datetime(2026, 11, 22, 8, 0)


def test_a_message_whose_validity_ends_before_a_slot_frees_is_suppressed_by_the_cap(planned):
    reminder, coupon = planned.of(ids["week_full"], "cart_abandonment")
    # Three promotional sends this week already: the next slot is Monday, after both validity windows.
    for row in (reminder, coupon):
        assert (row["status"], row["suppression_reason"], row["allocation_detail"]) == (
            "suppressed",
            "frequency_cap",
            "no_slot_before_validity_ends",
        )
        assert row["cap_week_load"] == 3


def test_the_same_offer_never_reaches_a_person_twice_within_its_window(planned):
    reminder, coupon = planned.of(ids["coupon_already_sent"], "cart_abandonment")
    assert (reminder["status"], reminder["channel"]) == ("planned", "app_push")
    assert (coupon["suppression_reason"], coupon["offer_key"]) == ("duplicate_offer", "cart_coupon_10")
    assert coupon["duplicate_offer_at"] == AS_OF - 5 * DAY  # sent by e-mail, for another cart


def test_escalation_after_no_engagement_and_staying_after_engagement(planned):
    ignored = planned.one(ids["ignored_win_back"], "win_back", step=2)
    assert (ignored["status"], ignored["channel"], ignored["channel_reason"]) == (
        "planned",
        "sms",
        "escalated_without_engagement",
    )
    assert ignored["previous_channel"] == "email"
    opened = planned.one(ids["opened_win_back"], "win_back", step=2)
    assert (opened["status"], opened["channel"], opened["channel_reason"]) == (
        "planned",
        "email",
        "stayed_after_engagement",
    )
    assert opened["previous_engaged_at"] == datetime(2026, 11, 12, 10, 0)


def test_reentry_gap_blocks_an_occurrence_started_soon_after_another(planned):
    first, second = planned.of(ids["two_purchases"], "post_purchase_feedback")
    assert first["status"] == "planned"
    assert (second["suppression_reason"], second["reentry_blocked_by"]) == ("reentry_gap", "earlier_occurrence")
    browse = planned.one(ids["browsed_again"], "browse_abandonment")
    assert (browse["suppression_reason"], browse["reentry_blocked_by"], browse["reentry_blocking_at"]) == (
        "reentry_gap",
        "send_history",
        AS_OF - 2 * DAY,
    )


def test_a_cart_runs_once_per_product_set(planned):
    reminder, coupon = planned.of(ids["same_cart_again"], "cart_abandonment")
    assert reminder["suppression_reason"] == "already_sent"
    assert (coupon["status"], coupon["due_at"]) == ("planned", AS_OF - 20 * HOUR + DAY)
    # Another product set is another cart, which the re-entry gap (3 days) holds back.
    grown = planned.of(ids["grown_cart"], "cart_abandonment")
    assert {r["occurrence_key"] for r in grown} == {"cart|P005,P006"}
    assert {r["suppression_reason"] for r in grown} == {"reentry_gap"}


def test_a_step_past_its_validity_is_expired(planned):
    feedback = planned.one(ids["old_purchase"], "post_purchase_feedback")
    assert (feedback["due_at"], feedback["suppression_reason"]) == (datetime(2026, 11, 12, 12, 0), "expired")


def test_transactional_messages_need_transactional_consent_only(planned):
    notice = planned.one(ids["transactional_only"], "points_expiring")
    assert (notice["status"], notice["channel"], notice["purpose"]) == ("planned", "email", "transactional")


def test_whatsapp_needs_an_opt_in_recorded_against_the_phone(planned):
    without = planned.one(ids["whatsapp_without_opt_in"], "churn_risk")
    assert (without["suppression_reason"], without["reachability_reason"]) == (
        "no_address",
        "no_whatsapp_opt_in_on_phone",
    )
    opted_in = planned.one(ids["whatsapp_opted_in"], "churn_risk")
    assert (opted_in["status"], opted_in["channel"], opted_in["reachability_reason"]) == (
        "planned",
        "whatsapp",
        "whatsapp_opt_in_on_phone",
    )


def test_an_opted_out_push_token_does_not_reach(planned):
    row = planned.one(ids["push_opted_out"], "churn_risk")
    assert (row["channel"], row["suppression_reason"], row["reachability_reason"]) == (
        "app_push",
        "no_address",
        "push_opted_out",
    )


def test_the_preferred_channel_moves_ahead_of_less_intrusive_ones(planned):
    row = planned.one(ids["prefers_whatsapp"], "churn_risk")
    assert (row["channel"], row["channel_reason"]) == ("whatsapp", "preferred_channel")


def test_time_zone_from_country_phone_home_store_or_default(planned):
    zones = {r["person_id"]: (r["time_zone"], r["time_zone_source"]) for r in planned.tables["int_person_time_zones"]}
    assert zones[ids["late_evening_london"]] == ("Europe/London", "country")
    assert zones[ids["zone_from_phone"]] == ("America/New_York", "phone")
    assert zones[ids["zone_from_store"]] == ("Europe/Berlin", "home_store")
    assert zones[ids["zone_by_default"]] == ("Europe/London", "default")


def test_the_nearest_store_is_in_the_persons_city_else_their_home_store(planned):
    stores = {r["person_id"]: r for r in planned.tables["int_person_stores"]}
    leeds = stores[ids["lapsed_in_leeds"]]
    # Two stores in Leeds: the one the person visited wins; the home store is the most visited anywhere.
    assert (leeds["nearest_store_id"], leeds["nearest_store_source"], leeds["home_store_id"]) == (
        "S-LEEDS-2",
        "same_city",
        "S-BERLIN",
    )
    berlin_shopper = stores[ids["zone_from_store"]]
    assert (berlin_shopper["nearest_store_id"], berlin_shopper["nearest_store_source"]) == ("S-BERLIN", "home_store")
    assert ids["zone_by_default"] not in stores
    payloads = [json.loads(r["payload"]) for r in planned.of(ids["lapsed_in_leeds"])]
    assert payloads and all(
        (p["store_id"], p["store_name"], p["store_city"]) == ("S-LEEDS-2", "Leeds Trinity", "Leeds") for p in payloads
    )


def test_no_person_gets_more_promotional_messages_than_the_cap(planned):
    """Planned promotional messages per local day and calendar week, with this week's recorded sends."""
    per_day: dict[tuple, int] = {}
    per_week: dict[tuple, int] = {}
    for row in planned.rows:
        if row["purpose"] == "promotional" and (
            row["status"] == "planned" or row["suppression_reason"] == "already_sent"
        ):
            day = row["send_after"].date()  # every capped person here is in London, on UTC in November
            per_day[(row["person_id"], day)] = per_day.get((row["person_id"], day), 0) + 1
            week = day - timedelta(days=day.weekday())
            per_week[(row["person_id"], week)] = per_week.get((row["person_id"], week), 0) + 1
    assert per_day and max(per_day.values()) == 1
    assert max(per_week.values()) <= 3


def test_message_keys_are_md5_of_person_journey_occurrence_and_step(planned):
    from tests.journeys.plan_harness import surrogate_key

    assert planned.rows and all(
        r["message_key"] == surrogate_key(r["person_id"], r["journey"], r["occurrence_key"], r["step"])
        for r in planned.rows
    )


def test_stale_store_data_stops_the_journeys_that_depend_on_it(plan):
    inputs = PlanInputs()
    inputs.fresh_sources(pos_transactions=AS_OF - 3 * DAY)
    ids["stale"] = person_id("stale")
    inputs.person(ids["stale"], marketing=("email",), email="u@example.com")
    abandoned_cart(inputs, ids["stale"], ("P001",), AS_OF - 5 * HOUR)
    inputs.add(
        "marts",
        "fct_loyalty_tier_changes",
        tier_change_id="T-1",
        person_id=ids["stale"],
        change_direction="upgrade",
        to_tier="gold",
        changed_at=AS_OF - 2 * DAY,
    )
    result = plan(inputs)
    cart = result.of(ids["stale"], "cart_abandonment")
    assert {(r["suppression_reason"], r["stale_sources"]) for r in cart} == {("stale_source", "pos_transactions")}
    # The tier-upgrade notice depends on the loyalty ledger only.
    assert result.one(ids["stale"], "tier_upgrade")["status"] == "planned"


def test_messages_beyond_the_allocation_rounds_are_suppressed_with_the_reason(plan):
    inputs = PlanInputs()
    inputs.fresh_sources()
    who = person_id("rounds")
    inputs.person(who, marketing=("email",), email="v@example.com")
    inputs.member("lapsed_customers", who, LAPSED_SINCE)
    abandoned_cart(inputs, who, ("P002",), AS_OF - 5 * HOUR)
    result = plan(inputs, cdp__plan_allocation_rounds=1)
    reminder, coupon = result.of(who, "cart_abandonment")
    assert reminder["status"] == "planned"
    for row in (coupon, result.one(who, "win_back")):
        assert (row["suppression_reason"], row["allocation_detail"]) == ("frequency_cap", "allocation_rounds_exhausted")
