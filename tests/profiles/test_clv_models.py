"""The BG/NBD and Gamma-Gamma fits against the published CDNOW results, on the published
per-customer summary (the end-to-end path from raw files is test_clv_cdnow.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdp.clv.models import (
    FitError,
    expected_average_spend,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    probability_alive,
)
from cdp.clv.step import ClvSettings, fit_and_predict
from tests.profiles import cdnow


@pytest.fixture(scope="module")
def summary() -> pd.DataFrame:
    return pd.DataFrame(cdnow.calibration_summary())


@pytest.fixture(scope="module")
def bgnbd(summary):
    return fit_bgnbd(summary["x"], summary["t_x"], summary["T"])


def test_bgnbd_reproduces_the_published_parameters(bgnbd, summary):
    assert bgnbd.sample_size == cdnow.CUSTOMERS == len(summary)
    for name, published in cdnow.PUBLISHED_BGNBD.items():
        assert getattr(bgnbd, name) == pytest.approx(published, rel=0.01), name
    assert bgnbd.log_likelihood == pytest.approx(cdnow.PUBLISHED_BGNBD_LOG_LIKELIHOOD, abs=0.5)


def test_gamma_gamma_reproduces_the_published_parameters(summary):
    spend = fit_gamma_gamma(summary["x"], summary["zbar"])
    assert spend.sample_size == int((summary["x"] > 0).sum())
    for name, published in cdnow.PUBLISHED_GAMMA_GAMMA.items():
        assert getattr(spend, name) == pytest.approx(published, rel=0.01), name


def test_conditional_expectation_matches_the_published_worked_example(bgnbd):
    # Fader, Hardie and Lee's worked example: a customer with x = 2, t_x = 30.43 and
    # T = 38.86 weeks is expected to make 1.226 purchases in the next 39 weeks.
    assert expected_purchases(bgnbd, 39, [2], [30.43], [38.86])[0] == pytest.approx(1.226, abs=0.002)


def test_probability_alive_behaves_as_the_model_says(bgnbd):
    # Without a repeat purchase nobody can have dropped out yet (BG/NBD's assumption);
    # with one, the longer the silence since the last purchase, the lower P(alive).
    assert probability_alive(bgnbd, [0], [0], [30])[0] == pytest.approx(1.0)
    silent_longer = probability_alive(bgnbd, [3, 3, 3], [30, 20, 5], [38, 38, 38])
    assert np.all(np.diff(silent_longer) < 0)


def test_expected_spend_shrinks_towards_the_population_mean(summary):
    spend = fit_gamma_gamma(summary["x"], summary["zbar"])
    population_mean = spend.p * spend.gamma / (spend.q - 1)
    few, many = expected_average_spend(spend, [1, 20], [100.0, 100.0])
    assert population_mean < few < many < 100.0
    assert expected_average_spend(spend, [0], [np.nan])[0] == pytest.approx(population_mean)


def test_inconsistent_summaries_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="t_x"):
        fit_bgnbd([1, 2], [10, 40], [20, 30])
    with pytest.raises(FitError, match="repeat purchase"):
        fit_bgnbd([0, 0, 0], [0, 0, 0], [5, 6, 7])


def test_too_few_customers_are_not_fitted_and_say_why(summary):
    few = pd.DataFrame(
        {
            "person_id": ["p1", "p2"],
            "repeat_purchases": [1, 0],
            "days_first_to_last_purchase": [14, 0],
            "days_first_purchase_to_as_of": [70, 35],
            "repeat_purchase_average_spend": [20.0, None],
        }
    )
    fits, predictions, report = fit_and_predict(few, ClvSettings(time_unit_days=7, horizon_days=365, min_customers=20))
    assert predictions.empty
    assert set(fits["status"]) == {"not_fitted"}
    assert "cdp__clv_min_customers" in report.reason


def test_a_maximum_at_the_edge_of_the_parameter_space_is_not_an_estimate():
    # Every customer spends about the same on every purchase: the spend model's shape
    # parameters run off to infinity instead of settling on an estimate.
    with pytest.raises(FitError, match="edge of the parameter space"):
        fit_gamma_gamma([1, 2, 3, 4, 5, 6, 2, 3], [20, 21, 20, 19, 20, 20.5, 20, 19.5])
