"""The journeys of the message plan (var cdp__journeys in dbt_project.yml), validated.

dbt can read configuration only from its vars at compile time, so the journeys live
there, one entry per journey with its steps nested. The SQL side (macros/activation/
cdp_journeys.sql) checks little beyond the keys it needs; this module checks the whole
structure with pydantic, so that a typo (an unknown key, a wrong type, an audience,
channel, entry kind or goal kind that does not exist) is an error naming the journey,
the step and the key before anything is built. `cdp build` runs it first; a test runs
it on the shipped configuration.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from activation.channels import read_channels
from cdp.paths import project_dir
from cdp.project_vars import project_var

# Entry kinds and goal kinds are closed lists: each has its SQL in
# macros/activation/cdp_journey_entries.sql and cdp_journey_goals.sql.
ENTRY_KINDS = (
    "audience",
    "cart_abandoned",
    "browse_abandoned",
    "purchase_completed",
    "nth_purchase",
    "tier_upgraded",
    "points_expiring",
)
GOAL_KINDS = (
    "none",
    "any_purchase",
    "purchase_of_products",
    "survey_answer",
    "next_tier_reached",
    "points_redeemed",
)
# Entries whose occurrence is about products: only they can have the goal purchase_of_products.
ENTRIES_WITH_PRODUCTS = ("cart_abandoned", "browse_abandoned", "purchase_completed", "nth_purchase")
_NAME = r"^[a-z][a-z0-9_]*$"


class JourneyConfigError(ValueError):
    """cdp__journeys is unusable; the message names the journey, the step and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AudienceEntry(_Strict):
    kind: Literal["audience"]
    audience: str


class CartAbandonedEntry(_Strict):
    kind: Literal["cart_abandoned"]


class BrowseAbandonedEntry(_Strict):
    kind: Literal["browse_abandoned"]


class PurchaseCompletedEntry(_Strict):
    kind: Literal["purchase_completed"]


class NthPurchaseEntry(_Strict):
    kind: Literal["nth_purchase"]
    n: int = Field(ge=1)


class TierUpgradedEntry(_Strict):
    kind: Literal["tier_upgraded"]


class PointsExpiringEntry(_Strict):
    kind: Literal["points_expiring"]
    within_days: int = Field(ge=1)


Entry = Annotated[
    AudienceEntry
    | CartAbandonedEntry
    | BrowseAbandonedEntry
    | PurchaseCompletedEntry
    | NthPurchaseEntry
    | TierUpgradedEntry
    | PointsExpiringEntry,
    Field(discriminator="kind"),
]


class Offer(_Strict):
    key: str = Field(pattern=_NAME)
    window_days: int = Field(ge=1)


class Step(_Strict):
    step: int = Field(ge=1)
    # Step 1 waits from the entry; later steps from the previous step's send.
    wait_minutes: int = Field(ge=0)
    # How long after due_at the step is still worth sending; null: as long as the occurrence is in the plan.
    validity_minutes: int | None = Field(ge=1)
    channels: list[str] | None = Field(default=None, min_length=1)
    offer: Offer | None = None
    escalate_if_no_engagement_within: int | None = Field(default=None, ge=1)


class Journey(_Strict):
    journey: str = Field(pattern=_NAME)
    purpose: Literal["promotional", "transactional"]
    priority: int = Field(ge=0, le=1000)
    entry: Entry
    goal: Literal[GOAL_KINDS]  # type: ignore[valid-type]
    reentry_gap_days: int = Field(ge=0)
    sources: list[str]
    holdout_share: float | None = Field(default=None, ge=0, le=1)
    steps: list[Step] = Field(min_length=1)

    @field_validator("steps")
    @classmethod
    def _steps_in_order(cls, steps: list[Step]) -> list[Step]:
        numbers = [step.step for step in steps]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"steps must be numbered 1, 2, ... in order, got {numbers}")
        return steps


def known_audience_names() -> tuple[str, ...]:
    """The audiences a journey may name: every aud_ model and every entry of audiences.yml (cdp.audiences)."""
    from cdp.audiences import audience_names

    return tuple(audience_names())


def _describe(index: int, entry: object) -> str:
    name = entry.get("journey") if isinstance(entry, dict) else None
    return f"cdp__journeys[{index}]" + (f" ({name})" if isinstance(name, str) else "")


def _location(entry: object, loc: tuple) -> str:
    """`steps[1] (step 2).wait_minutes` from pydantic's location tuple, with the step's number."""
    parts: list[str] = []
    node = entry
    for item in loc:
        if isinstance(item, int):
            node = node[item] if isinstance(node, list) and item < len(node) else None
            step = f" (step {node['step']})" if isinstance(node, dict) and "step" in node else ""
            parts[-1] += f"[{item}]{step}"
        elif parts == ["entry"] and item in ENTRY_KINDS:
            continue  # the tagged union repeats the entry's kind
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts)


def _check_references(
    journey: Journey, channels: tuple[str, ...], audiences: tuple[str, ...], sources: dict
) -> list[str]:
    problems = []
    entry = journey.entry
    if isinstance(entry, AudienceEntry) and entry.audience not in audiences:
        problems.append(f"entry.audience: {entry.audience!r} is not an audience ({', '.join(audiences)})")
    if journey.goal == "purchase_of_products" and entry.kind not in ENTRIES_WITH_PRODUCTS:
        problems.append(
            f"goal: purchase_of_products needs an entry about products ({', '.join(ENTRIES_WITH_PRODUCTS)}), "
            f"not {entry.kind}"
        )
    if isinstance(entry, PointsExpiringEntry):
        horizon = project_var("cdp__journey_points_expiring_horizon_days")
        if entry.within_days > horizon:
            problems.append(
                f"entry.within_days: {entry.within_days} is beyond "
                f"cdp__journey_points_expiring_horizon_days ({horizon})"
            )
    for source in journey.sources:
        if source not in sources:
            problems.append(f"sources: {source!r} is not in cdp__source_freshness ({', '.join(sources)})")
    for index, step in enumerate(journey.steps):
        where = f"steps[{index}] (step {step.step})"
        for channel in step.channels or ():
            if channel not in channels:
                problems.append(
                    f"{where}.channels: {channel!r} is not a channel of cdp__channels ({', '.join(channels)})"
                )
        if step.offer and journey.purpose != "promotional":
            problems.append(
                f"{where}.offer: offers go in promotional journeys (duplicate offers are checked with caps)"
            )
        if step.escalate_if_no_engagement_within is not None:
            if step.step == 1:
                problems.append(
                    f"{where}.escalate_if_no_engagement_within: step 1 has no earlier step to escalate from"
                )
            elif step.escalate_if_no_engagement_within > step.wait_minutes:
                problems.append(
                    f"{where}.escalate_if_no_engagement_within: {step.escalate_if_no_engagement_within} minutes is "
                    f"longer than the step's wait_minutes ({step.wait_minutes}): it would go before engagement is known"
                )
    return problems


def parse_journeys(
    entries: object,
    channels: tuple[str, ...],
    audiences: tuple[str, ...],
    sources: dict,
) -> tuple[Journey, ...]:
    """Validate ``entries`` (the value of cdp__journeys); every problem found is in the error."""
    if not isinstance(entries, list) or not entries:
        raise JourneyConfigError("cdp__journeys must be a list with one entry per journey")
    problems: list[str] = []
    journeys: list[Journey] = []
    for index, entry in enumerate(entries):
        where = _describe(index, entry)
        try:
            journey = Journey.model_validate(entry)
        except ValidationError as error:
            for detail in error.errors():
                location = _location(entry, detail["loc"])
                message = detail["msg"]
                if detail["type"] == "extra_forbidden":
                    message = "unknown key"
                elif detail["type"] == "union_tag_invalid":
                    message = f"unknown kind {detail['input'].get('kind')!r}; one of {', '.join(ENTRY_KINDS)}"
                elif detail["type"] == "literal_error" and location == "goal":
                    message = f"unknown goal {detail['input']!r}; one of {', '.join(GOAL_KINDS)}"
                problems.append(f"{where}: {location or 'journey'}: {message}")
            continue
        problems += [f"{where}: {problem}" for problem in _check_references(journey, channels, audiences, sources)]
        journeys.append(journey)
    names = [journey.journey for journey in journeys]
    problems += [
        f"cdp__journeys: journey {name!r} is defined twice" for name in sorted({n for n in names if names.count(n) > 1})
    ]
    if problems:
        raise JourneyConfigError("cdp__journeys is not valid:\n  " + "\n  ".join(problems))
    return tuple(journeys)


@cache
def configured_journeys() -> tuple[Journey, ...]:
    """The journeys of dbt_project.yml, validated against the channel registry, the audiences and the sources."""
    channels = read_channels(project_dir() / "dbt_project.yml").names
    return parse_journeys(
        project_var("cdp__journeys"), channels, known_audience_names(), project_var("cdp__source_freshness")
    )


def validate_journeys() -> None:
    """Raise JourneyConfigError when cdp__journeys is not valid (`cdp build` calls this first)."""
    configured_journeys()
