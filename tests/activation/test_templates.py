"""Templates per journey, step and channel (activation.yml): the most specific one is used,
and every destination's template can use the plan's payload (products, recommendations,
tier, points, offer) beside the sync's own fields."""

from __future__ import annotations

import json

import pytest

from activation.destinations.base import Message
from activation.engine import build_destinations
from cdp.sync_cli import load_activation_config

PAYLOAD = {
    "product_ids": ["P001", "P007"],
    "recommended_product_ids": ["P003", "P009", "P004"],
    "first_name": "from the payload",
    "loyalty_tier": "silver",
    "points_balance": 1200,
    "points_expiring": 300,
    "points_expire_at": "2026-12-31 00:00:00",
    "offer_key": "cart_coupon_10",
}


def message(journey: str, step: int, channel: str = "sms", **fields) -> Message:
    fields = {"phone": "+447700900123", "first_name": "Sophie", "payload": json.dumps(PAYLOAD), **fields}
    return Message("k1", "p1", channel, journey, str(step), fields)


def test_the_payload_is_spread_out_beside_the_sync_fields():
    content = message("cart_abandonment", 2).content(exclude=("phone",))
    assert "phone" not in content
    assert content["first_name"] == "Sophie"  # the sync's field wins over the payload's
    assert content["product_ids"] == "P001, P007"
    assert content["recommended_product_ids"] == "P003, P009, P004"
    assert content["points_expiring"] == 300 and content["offer_key"] == "cart_coupon_10"


@pytest.mark.parametrize("payload", ["not json", None, json.dumps(["a", "list"])])
def test_a_payload_that_is_not_an_object_adds_nothing(payload):
    content = Message("k1", "p1", "sms", "welcome", "1", {"first_name": "Ann", "payload": payload}).content()
    assert content == {"first_name": "Ann", "payload": payload}


@pytest.fixture
def shipped(secrets):
    return build_destinations(load_activation_config())


def test_the_most_specific_template_of_the_shipped_configuration_is_used(shipped):
    twilio = shipped["twilio"]
    coupon = message("cart_abandonment", 2)
    reminder = message("cart_abandonment", 1)
    other = message("win_back", 1)
    assert twilio._body(coupon, twilio.template_for(coupon)) == (
        "Sophie, 10% off your basket (P001, P007) with code cart_coupon_10."
    )
    assert twilio._body(reminder, twilio.template_for(reminder)) == "Sophie, your basket is waiting: P001, P007."
    assert twilio._body(other, twilio.template_for(other)) == "Hello Sophie, news from your store."


def test_push_templates_carry_recommendations_and_points(shipped):
    fcm = shipped["fcm"]
    welcome = message("welcome", 1, channel="app_push", push_token="token-1")
    template = fcm.template_for(welcome)
    assert template.title.format(**welcome.content()) == "Welcome, Sophie"
    assert template.body.format(**welcome.content()) == "Picked for you: P003, P009, P004"
    points = message("points_expiring", 1, channel="app_push", push_token="token-1")
    assert fcm.template_for(points).body.format(**points.content()) == "300 points expire on 2026-12-31 00:00:00"
