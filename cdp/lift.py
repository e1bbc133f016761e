"""The lift step of `cdp build`: per journey, treated against held-out persons, with
confidence intervals from statsmodels and a sample-ratio check from scipy, written where
dbt reads it (source `cdp_lift`, model `fct_journey_lift`).

It reads `intermediate.int_journey_lift_persons` (one row per comparison and person:
side, expected held-out share, whether the attribution window has closed, converted,
revenue), which does the counting in SQL, and replaces `lift.journey_lift` with one row
per configured journey (comparison `journey_holdout`) and one for the promotional
journeys together against the global control group (comparison `global_control`).

Per row:

* sizes: persons assigned to each side, those whose window has closed (measured), and
  persons found on both sides (measured on neither);
* conversion rate and revenue per person per side, over measured persons;
* the treated minus held-out difference of each, with a 95 % confidence interval:
  Newcombe's hybrid score interval for the difference of two proportions
  (`statsmodels.stats.proportion.confint_proportions_2indep`) and Welch's t interval
  for the difference of means (`statsmodels.stats.weightstats.CompareMeans`, unequal
  variances), with their p-values;
* the sample-ratio check: scipy's chi-square test of the assigned split against the
  expected held-out share, flagged when its p-value is below cdp__lift_srm_alpha.

A side with fewer measured persons than cdp__lift_min_persons_per_side gives status
`too_few_persons`: the sizes, no rates and no intervals. The check of the split needs
an expected count of at least 5 on each side (the chi-square approximation); below, it
is left empty.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.stats import chisquare
from statsmodels.stats.proportion import confint_proportions_2indep, test_proportions_2indep
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from cdp.project_vars import project_var
from cdp.warehouse import Warehouse, frame_as_table, open_warehouse

log = logging.getLogger(__name__)

PERSONS_TABLE = "intermediate.int_journey_lift_persons"
PERSONS_COLUMNS = (
    "comparison",
    "journey",
    "side",
    "expected_held_out_share",
    "is_window_closed",
    "is_converted",
    "revenue",
)
OUTPUT_SCHEMA = "lift"
OUTPUT_TABLE = "journey_lift"
CONFIDENCE = 0.95
# The chi-square approximation behind the sample-ratio check needs this many expected persons per side.
SRM_MIN_EXPECTED = 5
MEASURED = "measured"
TOO_FEW_PERSONS = "too_few_persons"
LIFT_SCHEMA = pa.schema(
    [
        ("comparison", pa.string()),
        ("journey", pa.string()),
        ("status", pa.string()),
        ("status_reason", pa.string()),
        ("attribution_days", pa.int64()),
        ("expected_held_out_share", pa.float64()),
        ("treated_persons", pa.int64()),
        ("held_out_persons", pa.int64()),
        ("both_sides_persons", pa.int64()),
        ("treated_measured_persons", pa.int64()),
        ("held_out_measured_persons", pa.int64()),
        ("treated_conversions", pa.int64()),
        ("held_out_conversions", pa.int64()),
        ("treated_conversion_rate", pa.float64()),
        ("held_out_conversion_rate", pa.float64()),
        ("conversion_rate_difference", pa.float64()),
        ("conversion_rate_difference_lower", pa.float64()),
        ("conversion_rate_difference_upper", pa.float64()),
        ("conversion_rate_difference_p_value", pa.float64()),
        ("treated_revenue_per_person", pa.float64()),
        ("held_out_revenue_per_person", pa.float64()),
        ("revenue_per_person_difference", pa.float64()),
        ("revenue_per_person_difference_lower", pa.float64()),
        ("revenue_per_person_difference_upper", pa.float64()),
        ("revenue_per_person_difference_p_value", pa.float64()),
        ("sample_ratio_p_value", pa.float64()),
        ("has_sample_ratio_mismatch", pa.bool_()),
        ("as_of", pa.timestamp("us")),
        ("computed_at", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True)
class LiftSettings:
    attribution_days: int
    # Fewer measured persons on a side: sizes only (an interval on a handful of persons is noise).
    min_persons_per_side: int
    # The sample-ratio check flags a split whose p-value is below this.
    srm_alpha: float
    # Every configured journey gets a row, measured or not.
    journeys: tuple[str, ...]

    @classmethod
    def from_project(cls) -> LiftSettings:
        return cls(
            attribution_days=int(project_var("cdp__lift_attribution_days")),
            min_persons_per_side=int(project_var("cdp__lift_min_persons_per_side")),
            srm_alpha=float(project_var("cdp__lift_srm_alpha")),
            journeys=tuple(journey["journey"] for journey in project_var("cdp__journeys")),
        )


@dataclass(frozen=True)
class LiftReport:
    measured: int
    too_few_persons: int
    sample_ratio_mismatches: tuple[str, ...]

    def __str__(self) -> str:
        text = f"lift: {self.measured} comparisons measured, {self.too_few_persons} with too few persons"
        if self.sample_ratio_mismatches:
            text += f"; sample-ratio mismatch in {', '.join(self.sample_ratio_mismatches)}"
        return text


def sample_ratio_check(treated: int, held_out: int, held_out_share: float | None) -> float | None:
    """The chi-square p-value of the split against ``held_out_share``; None where the test does not apply."""
    total = treated + held_out
    if held_out_share is None or not 0 < held_out_share < 1:
        return None
    expected = [total * (1 - held_out_share), total * held_out_share]
    if min(expected) < SRM_MIN_EXPECTED:
        return None
    return float(chisquare([treated, held_out], f_exp=expected).pvalue)


def compare_sides(persons: pd.DataFrame, settings: LiftSettings) -> dict:
    """One comparison's figures from its persons' rows (columns of PERSONS_COLUMNS)."""
    sides = persons["side"]
    treated_all, held_out_all = int((sides == "treated").sum()), int((sides == "held_out").sum())
    shares = persons["expected_held_out_share"].dropna()
    share = float(shares.iloc[0]) if len(shares) else None
    closed = persons[persons["is_window_closed"].astype(bool)]
    treated = closed[closed["side"] == "treated"]
    held_out = closed[closed["side"] == "held_out"]
    srm_p_value = sample_ratio_check(treated_all, held_out_all, share)
    row = {
        "expected_held_out_share": share,
        "treated_persons": treated_all,
        "held_out_persons": held_out_all,
        "both_sides_persons": int((sides == "both").sum()),
        "treated_measured_persons": len(treated),
        "held_out_measured_persons": len(held_out),
        "sample_ratio_p_value": srm_p_value,
        "has_sample_ratio_mismatch": None if srm_p_value is None else srm_p_value < settings.srm_alpha,
    }
    if min(len(treated), len(held_out)) < settings.min_persons_per_side:
        row["status"] = TOO_FEW_PERSONS
        row["status_reason"] = (
            f"{len(treated)} treated and {len(held_out)} held-out persons with a closed attribution window, "
            f"fewer than cdp__lift_min_persons_per_side = {settings.min_persons_per_side} on a side"
        )
        return row
    alpha = 1 - CONFIDENCE
    converted_t, converted_h = int(treated["is_converted"].sum()), int(held_out["is_converted"].sum())
    lower, upper = confint_proportions_2indep(
        converted_t, len(treated), converted_h, len(held_out), method="newcomb", compare="diff", alpha=alpha
    )
    # No conversion on either side leaves the test's ratios undefined (0/0): its p-value is then empty.
    with np.errstate(invalid="ignore", divide="ignore"):
        conversion_test = test_proportions_2indep(
            converted_t, len(treated), converted_h, len(held_out), method="agresti-caffo", compare="diff"
        )
    revenue_t = treated["revenue"].to_numpy(dtype=float)
    revenue_h = held_out["revenue"].to_numpy(dtype=float)
    row.update(
        status=MEASURED,
        status_reason=None,
        treated_conversions=converted_t,
        held_out_conversions=converted_h,
        treated_conversion_rate=converted_t / len(treated),
        held_out_conversion_rate=converted_h / len(held_out),
        conversion_rate_difference=converted_t / len(treated) - converted_h / len(held_out),
        conversion_rate_difference_lower=float(lower),
        conversion_rate_difference_upper=float(upper),
        conversion_rate_difference_p_value=float(conversion_test.pvalue),
        treated_revenue_per_person=float(revenue_t.mean()),
        held_out_revenue_per_person=float(revenue_h.mean()),
        revenue_per_person_difference=float(revenue_t.mean() - revenue_h.mean()),
    )
    # Welch's interval needs some spread on a side: with every revenue equal on both
    # (no purchase at all, say) there is no interval to give, and it stays empty.
    if revenue_t.var() > 0 or revenue_h.var() > 0:
        means = CompareMeans(DescrStatsW(revenue_t), DescrStatsW(revenue_h))
        lower, upper = means.tconfint_diff(alpha=alpha, usevar="unequal")
        _, p_value, _ = means.ttest_ind(usevar="unequal")
        row.update(
            revenue_per_person_difference_lower=float(lower),
            revenue_per_person_difference_upper=float(upper),
            revenue_per_person_difference_p_value=float(p_value),
        )
    return row


def measure_lift(persons: pd.DataFrame, settings: LiftSettings) -> tuple[pd.DataFrame, LiftReport]:
    """One row per configured journey and one for the global control group, from the persons' rows."""
    groups = [("journey_holdout", journey) for journey in settings.journeys] + [("global_control", None)]
    rows = []
    for comparison, journey in groups:
        selected = persons[persons["comparison"] == comparison]
        if journey is not None:
            selected = selected[selected["journey"] == journey]
        rows.append({"comparison": comparison, "journey": journey, **compare_sides(selected, settings)})
    columns = [name for name in LIFT_SCHEMA.names if name not in ("as_of", "computed_at")]
    lift = pd.DataFrame(rows).assign(attribution_days=settings.attribution_days).reindex(columns=columns)
    mismatches = tuple(
        row["journey"] or "the global control group" for row in rows if row["has_sample_ratio_mismatch"] is True
    )
    report = LiftReport(
        measured=sum(row["status"] == MEASURED for row in rows),
        too_few_persons=sum(row["status"] == TOO_FEW_PERSONS for row in rows),
        sample_ratio_mismatches=mismatches,
    )
    return lift, report


def _read_persons(warehouse: Warehouse) -> pd.DataFrame:
    rows = warehouse.query(f"select {', '.join(PERSONS_COLUMNS)} from {PERSONS_TABLE}")
    return pd.DataFrame(rows, columns=list(PERSONS_COLUMNS))


def run_lift_step(as_of: datetime, target: str | None, settings: LiftSettings | None = None) -> LiftReport:
    """Read the persons lift compares, measure as of ``as_of``, and replace `lift.journey_lift`."""
    settings = settings or LiftSettings.from_project()
    warehouse = open_warehouse(target)
    try:
        lift, report = measure_lift(_read_persons(warehouse), settings)
        lift = lift.assign(as_of=as_of, computed_at=datetime.now(UTC).replace(tzinfo=None, microsecond=0))
        warehouse.replace_tables(OUTPUT_SCHEMA, {OUTPUT_TABLE: frame_as_table(lift, LIFT_SCHEMA)})
    finally:
        warehouse.close()
    log.info("%s", report)
    return report
