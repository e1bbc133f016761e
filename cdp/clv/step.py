"""The CLV step of `cdp build`: fit BG/NBD and Gamma-Gamma on the warehouse's purchase
history and write the results where dbt reads them (source `clv`).

It reads `intermediate.int_persons_clv_summarized` (one row per person with a purchase:
repeat purchase days, days from first to last purchase and to the as-of date, average
repeat spend), and replaces two tables in schema `clv`:

* `clv_model_fits`: one row per (model, parameter) with the fit time, the as-of date,
  the sample size and the log-likelihood; a model that could not be fitted gets one row
  saying why (`status = 'not_fitted'`), so that the build goes on and the reason is in
  the warehouse.
* `clv_person_predictions`: one row per person in the fit: expected purchases and
  predicted spend over the horizon, P(alive) and churn probability.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from cdp.clv.models import (
    FitError,
    expected_average_spend,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
)
from cdp.project_vars import project_var
from cdp.warehouse import Warehouse, frame_as_table, open_warehouse

log = logging.getLogger(__name__)

SUMMARY_TABLE = "intermediate.int_persons_clv_summarized"
SUMMARY_COLUMNS = (
    "person_id",
    "repeat_purchases",
    "days_first_to_last_purchase",
    "days_first_purchase_to_as_of",
    "repeat_purchase_average_spend",
)
OUTPUT_SCHEMA = "clv"
FITS_SCHEMA = pa.schema(
    [
        ("model", pa.string()),
        ("parameter", pa.string()),
        ("value", pa.float64()),
        ("status", pa.string()),
        ("status_reason", pa.string()),
        ("log_likelihood", pa.float64()),
        ("sample_size", pa.int64()),
        ("time_unit_days", pa.float64()),
        ("horizon_days", pa.float64()),
        ("as_of", pa.timestamp("us")),
        ("fitted_at", pa.timestamp("us")),
    ]
)
PREDICTIONS_SCHEMA = pa.schema(
    [
        ("person_id", pa.string()),
        ("expected_purchases", pa.float64()),
        ("probability_alive", pa.float64()),
        ("churn_probability", pa.float64()),
        ("expected_average_spend", pa.float64()),
        ("predicted_clv", pa.float64()),
        ("horizon_days", pa.float64()),
        ("fitted_at", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True)
class ClvSettings:
    # Length of one model period in days (7: weeks, as in the published CDNOW fits).
    time_unit_days: float
    # Prediction horizon in days ("12 months" = 365).
    horizon_days: float
    # Below this many customers the fit is not attempted: the estimates would be noise.
    min_customers: int

    @classmethod
    def from_project(cls) -> ClvSettings:
        return cls(
            time_unit_days=float(project_var("cdp__clv_time_unit_days")),
            horizon_days=float(project_var("cdp__clv_horizon_days")),
            min_customers=int(project_var("cdp__clv_min_customers")),
        )


@dataclass(frozen=True)
class ClvFitReport:
    customers: int
    bgnbd_status: str
    gamma_gamma_status: str
    reason: str | None

    def __str__(self) -> str:
        text = (
            f"CLV fit on {self.customers:,} customers: BG/NBD {self.bgnbd_status}, "
            f"Gamma-Gamma {self.gamma_gamma_status}"
        )
        return text + (f" ({self.reason})" if self.reason else "")


def _read_summary(warehouse: Warehouse) -> pd.DataFrame:
    rows = warehouse.query(f"select {', '.join(SUMMARY_COLUMNS)} from {SUMMARY_TABLE} order by person_id")
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _fit_rows(
    model: str,
    status: str,
    reason: str | None,
    parameters: dict[str, float],
    log_likelihood: float | None,
    sample_size: int,
) -> list[dict]:
    base = {
        "model": model,
        "status": status,
        "status_reason": reason,
        "log_likelihood": log_likelihood,
        "sample_size": sample_size,
    }
    if not parameters:
        return [{**base, "parameter": None, "value": None}]
    return [{**base, "parameter": name, "value": value} for name, value in parameters.items()]


def fit_and_predict(summary: pd.DataFrame, settings: ClvSettings) -> tuple[pd.DataFrame, pd.DataFrame, ClvFitReport]:
    """Fit both models on a purchase summary; return (fits, predictions, report)."""
    unit = settings.time_unit_days
    x = summary["repeat_purchases"].to_numpy(dtype=float)
    t_x = summary["days_first_to_last_purchase"].to_numpy(dtype=float) / unit
    T = summary["days_first_purchase_to_as_of"].to_numpy(dtype=float) / unit
    m = np.nan_to_num(summary["repeat_purchase_average_spend"].to_numpy(dtype=float))
    # A customer whose first purchase is on the as-of day has T = 0, which the model
    # cannot use: there is no time yet in which a repeat purchase could have happened.
    observable = T > 0
    customers = int(observable.sum())
    predictions = pd.DataFrame(
        columns=[
            "person_id",
            "expected_purchases",
            "probability_alive",
            "churn_probability",
            "expected_average_spend",
            "predicted_clv",
        ]
    )

    if customers < settings.min_customers:
        reason = f"{customers} customers, fewer than cdp__clv_min_customers = {settings.min_customers}"
        fits = pd.DataFrame(
            _fit_rows("bgnbd", "not_fitted", reason, {}, None, customers)
            + _fit_rows("gamma_gamma", "not_fitted", reason, {}, None, 0)
        )
        return fits, predictions, ClvFitReport(customers, "not fitted", "not fitted", reason)

    try:
        bgnbd = fit_bgnbd(x[observable], t_x[observable], T[observable])
    except FitError as error:
        reason = str(error)
        fits = pd.DataFrame(
            _fit_rows("bgnbd", "not_fitted", reason, {}, None, customers)
            + _fit_rows("gamma_gamma", "not_fitted", "BG/NBD not fitted", {}, None, 0)
        )
        return fits, predictions, ClvFitReport(customers, "not fitted", "not fitted", reason)
    rows = _fit_rows(
        "bgnbd",
        "fitted",
        None,
        {"r": bgnbd.r, "alpha": bgnbd.alpha, "a": bgnbd.a, "b": bgnbd.b},
        bgnbd.log_likelihood,
        bgnbd.sample_size,
    )

    horizon = settings.horizon_days / unit
    observed = summary.loc[observable, ["person_id"]].reset_index(drop=True)
    observed["expected_purchases"] = expected_purchases(bgnbd, horizon, x[observable], t_x[observable], T[observable])
    observed["probability_alive"] = probability_alive(bgnbd, x[observable], t_x[observable], T[observable])
    observed["churn_probability"] = 1 - observed["probability_alive"]

    gamma_gamma_status, reason = "fitted", None
    try:
        spend = fit_gamma_gamma(x[observable], m[observable])
        rows += _fit_rows(
            "gamma_gamma",
            "fitted",
            None,
            {"p": spend.p, "q": spend.q, "gamma": spend.gamma},
            spend.log_likelihood,
            spend.sample_size,
        )
        observed["expected_average_spend"] = expected_average_spend(spend, x[observable], m[observable])
        observed["predicted_clv"] = observed["expected_purchases"] * observed["expected_average_spend"]
    except FitError as error:
        gamma_gamma_status, reason = "not fitted", str(error)
        rows += _fit_rows("gamma_gamma", "not_fitted", reason, {}, None, 0)
        observed["expected_average_spend"] = np.nan
        observed["predicted_clv"] = np.nan
    report = ClvFitReport(customers, "fitted", gamma_gamma_status, reason)
    return pd.DataFrame(rows), observed, report


def run_clv_step(as_of: datetime, target: str | None, settings: ClvSettings | None = None) -> ClvFitReport:
    """Read the purchase summary, fit as of ``as_of``, and replace the `clv` tables."""
    settings = settings or ClvSettings.from_project()
    warehouse = open_warehouse(target)
    try:
        fits, predictions, report = fit_and_predict(_read_summary(warehouse), settings)
        fitted_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        fits = fits.assign(
            fitted_at=fitted_at,
            as_of=as_of,
            time_unit_days=settings.time_unit_days,
            horizon_days=settings.horizon_days,
        )
        predictions = predictions.assign(fitted_at=fitted_at, horizon_days=settings.horizon_days)
        warehouse.replace_tables(
            OUTPUT_SCHEMA,
            {
                "clv_model_fits": frame_as_table(fits, FITS_SCHEMA),
                "clv_person_predictions": frame_as_table(predictions, PREDICTIONS_SCHEMA),
            },
        )
    finally:
        warehouse.close()
    log.info("%s", report)
    return report
