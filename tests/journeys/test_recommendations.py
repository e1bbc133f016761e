"""Co-purchase recommendations (fct_person_recommendations) and the payloads that carry them.

One set of inputs, planned once by the compiled models with small limits (two
recommendations per person, one in the payload), so that the limits are visible. The
answers follow from how the stories are built: the persons who bought A mostly bought B
with it, so B is what a buyer of A alone is recommended.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.journeys.plan_harness import AS_OF, PlanInputs, PlanResult

DAY = timedelta(days=1)
LIMITS = {"cdp__recommendations_per_person": 2, "cdp__payload_recommendations": 1}


@pytest.fixture(scope="module")
def result(plan) -> PlanResult:
    inputs = PlanInputs()
    inputs.fresh_sources()
    # Five persons bought A with B, on every channel: the stores count like the shop.
    for number, channel in enumerate(("store", "web", "app", "store", "web")):
        inputs.person(f"pair_buyer_{number}", marketing=("email",))
        inputs.purchase(f"pair_buyer_{number}", AS_OF - (20 + number) * DAY, ("A", "B"), channel=channel)
    # Two of them also bought C, in another store visit: C goes with A less often than B does.
    for number in (0, 1):
        inputs.purchase(f"pair_buyer_{number}", AS_OF - 10 * DAY, ("C",))
    # D was bought once with A: one shared buyer is below cdp__recommendations_min_co_buyers.
    inputs.person("single_pair_buyer", marketing=("email",))
    inputs.purchase("single_pair_buyer", AS_OF - 30 * DAY, ("A", "D"), channel="web")
    # Bought A only, in a store.
    inputs.person("a_buyer", marketing=("email",))
    inputs.purchase("a_buyer", AS_OF - 3 * DAY, ("A",))
    # Bought A and B already: B is never recommended to them, C is.
    inputs.person("ab_buyer", marketing=("email",))
    inputs.purchase("ab_buyer", AS_OF - 3 * DAY, ("A", "B"))
    # X with Y twice and X with Z twice: Y and Z tie for a buyer of X, the smaller id first.
    for number, other in enumerate(("Y", "Y", "Z", "Z")):
        inputs.person(f"x_buyer_{number}", marketing=("email",))
        inputs.purchase(f"x_buyer_{number}", AS_OF - 40 * DAY, ("X", other))
    inputs.person("x_only_buyer", marketing=("email",))
    inputs.purchase("x_only_buyer", AS_OF - 2 * DAY, ("X",))
    # Never bought anything: nothing to recommend from.
    inputs.person("no_purchase", marketing=("email",))
    inputs.member("new_signups", "no_purchase", AS_OF - DAY)
    # A purchase after the plan's moment is not history yet.
    inputs.person("future_buyer", marketing=("email",))
    inputs.purchase("future_buyer", AS_OF + DAY, ("A",))
    return plan(inputs, **LIMITS)


def recommended(result: PlanResult, person: str) -> list[str]:
    rows = [row for row in result.tables["fct_person_recommendations"] if row["person_id"] == person]
    return [row["product_id"] for row in sorted(rows, key=lambda row: row["recommendation_rank"])]


def test_a_buyer_of_a_gets_what_others_bought_with_a_and_never_a(result):
    assert recommended(result, "a_buyer") == ["B", "C"]


def test_a_product_the_person_bought_is_never_recommended(result):
    assert recommended(result, "ab_buyer") == ["C"]
    bought = {
        (person, product)
        for person, products in (
            (row["person_id"], row["product_ids"]) for row in result.tables["int_journey_purchases"]
        )
        for product in products.split(",")
    }
    recommendations = {(row["person_id"], row["product_id"]) for row in result.tables["fct_person_recommendations"]}
    assert recommendations and not recommendations & bought


def test_a_pair_with_one_shared_buyer_is_no_affinity(result):
    assert "D" not in {row["product_id"] for row in result.tables["fct_person_recommendations"]}


def test_ties_go_to_the_smaller_product_id(result):
    rows = sorted(
        (row for row in result.tables["fct_person_recommendations"] if row["person_id"] == "x_only_buyer"),
        key=lambda row: row["recommendation_rank"],
    )
    assert [(row["recommendation_rank"], row["product_id"]) for row in rows] == [(1, "Y"), (2, "Z")]
    assert rows[0]["score"] == rows[1]["score"]


def test_at_most_the_configured_number_per_person_ranked_from_one(result):
    ranks: dict[str, list[int]] = {}
    for row in result.tables["fct_person_recommendations"]:
        ranks.setdefault(row["person_id"], []).append(row["recommendation_rank"])
    assert max(len(person_ranks) for person_ranks in ranks.values()) == LIMITS["cdp__recommendations_per_person"]
    assert all(sorted(person_ranks) == list(range(1, len(person_ranks) + 1)) for person_ranks in ranks.values())


def test_persons_without_history_up_to_the_plan_get_none(result):
    assert recommended(result, "no_purchase") == []
    assert recommended(result, "future_buyer") == []


def test_payloads_carry_the_first_recommendations_beside_their_products(result):
    rows = result.of("a_buyer", "post_purchase_feedback")
    assert rows
    for row in rows:
        payload = json.loads(row["payload"])
        assert payload["recommended_product_ids"] == ["B"]
        assert payload["product_ids"] == ["A"]
    tied = result.of("x_only_buyer", "post_purchase_feedback")
    assert tied and all(json.loads(row["payload"])["recommended_product_ids"] == ["Y"] for row in tied)
    unrecommended = result.of("no_purchase", "welcome")
    assert unrecommended and all(json.loads(row["payload"])["recommended_product_ids"] is None for row in unrecommended)
