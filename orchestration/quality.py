"""Data-quality suites on what activation reads, with Great Expectations (GX Core).

Each suite is a list of expectations, each with the sentence an operator reads when it
fails; running one gives per expectation whether it held and on how many rows it did
not. Results carry counts only: GX's samples of unexpected values (e-mails, phones) are
dropped here and never reach metadata or logs.

GX runs in an ephemeral context (nothing written to disk), on pandas frames of just the
columns a suite needs, with its analytics and progress bars off. It is imported when a
suite runs, not when the definitions load (the import alone takes seconds).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

# The address forms staging keeps (cdp_normalize_email, libphonenumber's E.164), restated
# here as an independent check of the marts rather than a second call of the same code.
EMAIL_PATTERN = r"^[a-z0-9._%+'-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$"
E164_PATTERN = r"^\+[1-9][0-9]{6,14}$"

# An expectation, built when the suite runs (after GX is imported), with its sentence.
Expected = tuple[str, Callable[[Any], Any]]


@dataclass(frozen=True)
class ExpectationOutcome:
    description: str
    passed: bool
    failing_rows: int
    rows_checked: int
    # Set when GX could not evaluate the expectation (a missing column, say).
    error: str | None = None


@dataclass
class SuiteOutcome:
    suite: str
    outcomes: list[ExpectationOutcome] = field(default_factory=list)
    # What the suite could not check and why (shown beside the results).
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(outcome.passed for outcome in self.outcomes)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.passed]


def run_expectations(frame: pd.DataFrame, expected: list[Expected], batch_name: str) -> list[ExpectationOutcome]:
    """Validate ``frame`` against ``expected`` in a fresh ephemeral GX context."""
    if not expected:
        return []
    gx = _gx()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = gx.data_context.types.base.ProgressBarsConfig(globally=False)
    batch = (
        context.data_sources.add_pandas(f"cdp_{batch_name}")
        .add_dataframe_asset(batch_name)
        .add_batch_definition_whole_dataframe("whole table")
    )
    suite = context.suites.add(gx.ExpectationSuite(name=batch_name))
    described = {}
    for description, build in expected:
        described[suite.add_expectation(build(gx.expectations)).id] = description
    validation = context.validation_definitions.add(gx.ValidationDefinition(name=batch_name, data=batch, suite=suite))
    results = validation.run(batch_parameters={"dataframe": frame}, result_format="BASIC").results
    # GX orders results its own way: each is matched to its expectation by id.
    by_description = {described[result.expectation_config.id]: result for result in results}
    outcomes = []
    for description, _ in expected:
        result = by_description[description]
        counts = result.result or {}
        error = None
        if (result.exception_info or {}).get("raised_exception"):
            error = str(result.exception_info.get("exception_message") or "GX could not evaluate it")[:300]
        outcomes.append(
            ExpectationOutcome(
                description=description,
                passed=bool(result.success),
                failing_rows=int(counts.get("unexpected_count") or 0),
                rows_checked=int(counts.get("element_count", len(frame))),
                error=error,
            )
        )
    return outcomes


def _gx():
    # No usage statistics leave the machine; GX reads this when its context starts.
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    # GX imports pyspark when it is installed, and pyspark's Spark Connect module takes a
    # main module without a file (Dagster's run worker, `python -c`) for its doctest
    # runner and exits the process. It does not when the interpreter looks interactive,
    # which it is made to look for the length of the import only.
    pretended = not hasattr(sys, "ps1")
    if pretended:
        sys.ps1 = ""
    try:
        import great_expectations as gx
        import great_expectations.expectations
    finally:
        if pretended:
            del sys.ps1
    return gx


# ----------------------------------------------------------------------------- persons
def person_expectations(consent_columns: list[str], erased_must_lack: list[str]) -> list[Expected]:
    """dim_persons: addresses valid, consent flags true or false, erased persons without personal data."""
    expected: list[Expected] = [
        (
            "email is a valid e-mail address in lower case",
            lambda x: x.ExpectColumnValuesToMatchRegex(column="email", regex=EMAIL_PATTERN),
        ),
        (
            "phone is in E.164 (+ and up to 15 digits)",
            lambda x: x.ExpectColumnValuesToMatchRegex(column="phone", regex=E164_PATTERN),
        ),
    ]
    for column in consent_columns:
        expected += [
            (f"{column} is set", lambda x, c=column: x.ExpectColumnValuesToNotBeNull(column=c)),
            (
                f"{column} is true or false",
                lambda x, c=column: x.ExpectColumnValuesToBeInSet(column=c, value_set=[True, False]),
            ),
        ]
    for column in erased_must_lack:
        expected.append(
            (
                f"erased persons have no {column}",
                lambda x, c=column: x.ExpectColumnValuesToBeNull(
                    column=c, row_condition="is_erased==True", condition_parser="pandas"
                ),
            )
        )
    return expected


# ----------------------------------------------------------------------------- audiences
@dataclass(frozen=True)
class SizeBounds:
    # An audience may grow or shrink by this share of its previous size ...
    max_change_share: float
    # ... or by this many persons, whichever is more (small audiences move in big steps).
    change_floor: int


def audience_size_frame(current: dict[str, int], previous: dict[str, int], bounds: SizeBounds) -> pd.DataFrame:
    """One row per audience with a previous size: the change and the change allowed."""
    rows = [
        {
            "audience_name": name,
            "previous_size": previous[name],
            "size": size,
            "change": abs(size - previous[name]),
            "allowed_change": max(bounds.max_change_share * previous[name], bounds.change_floor),
        }
        for name, size in current.items()
        if name in previous
    ]
    columns = ["audience_name", "previous_size", "size", "change", "allowed_change"]
    return pd.DataFrame(rows, columns=columns).astype({"change": float, "allowed_change": float})


def audience_size_expectations(bounds: SizeBounds) -> list[Expected]:
    return [
        (
            f"each audience's size changed by at most {bounds.max_change_share:.0%} of its previous size "
            f"or {bounds.change_floor} persons",
            lambda x: x.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="allowed_change", column_B="change", or_equal=True
            ),
        )
    ]


# ----------------------------------------------------------------------------- the plan
def plan_expectations(suppression_reasons: list[str]) -> list[Expected]:
    return [
        (
            "every suppressed message has a suppression_reason",
            lambda x: x.ExpectColumnValuesToNotBeNull(
                column="suppression_reason", row_condition='status=="suppressed"', condition_parser="pandas"
            ),
        ),
        (
            f"suppression_reason is one of {', '.join(suppression_reasons)}",
            lambda x: x.ExpectColumnValuesToBeInSet(
                column="suppression_reason",
                value_set=suppression_reasons,
                row_condition='status=="suppressed"',
                condition_parser="pandas",
            ),
        ),
    ]


@dataclass(frozen=True)
class FrequencyCap:
    """The cross-channel cap of promotional messages, counted in the person's local calendar."""

    # No person gets more than this many planned promotional messages on one local day ...
    per_day: int
    # ... nor in one local calendar week (Monday to Sunday).
    per_week: int


def promotional_messages_per_person(plan: pd.DataFrame) -> pd.DataFrame:
    """Per person, the most planned promotional messages on one local day and in one local calendar week.

    ``plan`` has person_id, status, purpose, send_after (UTC) and time_zone (IANA; null: UTC).
    The local calendar is restated here from the time zone, not taken from the plan's own
    slot columns: a check built from the code under test could not catch a bug in it.
    """
    promotional = plan[(plan["status"] == "planned") & (plan["purpose"] == "promotional")]
    empty = pd.DataFrame(
        {"person_id": pd.Series(dtype=str), "per_day": pd.Series(dtype=int), "per_week": pd.Series(dtype=int)}
    )
    if promotional.empty:
        return empty
    utc = pd.to_datetime(promotional["send_after"]).dt.tz_localize("UTC")
    local = pd.Series(index=promotional.index, dtype="datetime64[ns]")
    zones = promotional["time_zone"].fillna("UTC")
    for zone in zones.unique():
        rows = zones == zone
        local[rows] = utc[rows].dt.tz_convert(zone).dt.tz_localize(None)
    days = local.dt.normalize()
    frame = promotional.assign(local_day=days, local_week=days - pd.to_timedelta(days.dt.weekday, unit="D"))
    per_day = frame.groupby(["person_id", "local_day"]).size().groupby(level="person_id").max().rename("per_day")
    per_week = frame.groupby(["person_id", "local_week"]).size().groupby(level="person_id").max().rename("per_week")
    return pd.concat([per_day, per_week], axis=1).reset_index()


def frequency_cap_expectations(cap: FrequencyCap) -> list[Expected]:
    return [
        (
            f"no person has more than {cap.per_day} planned promotional messages on one local day",
            lambda x: x.ExpectColumnValuesToBeBetween(column="per_day", max_value=cap.per_day),
        ),
        (
            f"no person has more than {cap.per_week} planned promotional messages in one local calendar week",
            lambda x: x.ExpectColumnValuesToBeBetween(column="per_week", max_value=cap.per_week),
        ),
    ]
