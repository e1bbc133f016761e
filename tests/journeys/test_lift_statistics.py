"""The lift step's figures (cdp/lift.py) on persons drawn with a known effect.

Each fixture draws persons with a fixed seed from a stated truth (conversion rates,
revenue per conversion, the share held out), so the expected outcome follows from the
construction: a real effect gives an interval that excludes 0 and holds the true
difference, no effect an interval that holds 0, a broken split a sample-ratio flag.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cdp.lift import MEASURED, TOO_FEW_PERSONS, LiftSettings, measure_lift, sample_ratio_check

SETTINGS = LiftSettings(attribution_days=14, min_persons_per_side=30, srm_alpha=0.001, journeys=("win_back",))
SPEND = 50.0


def persons(
    treated: int,
    held_out: int,
    treated_rate: float,
    held_out_rate: float,
    *,
    share: float = 0.1,
    seed: int = 7,
    open_windows: int = 0,
    both_sides: int = 0,
) -> pd.DataFrame:
    """Rows of int_journey_lift_persons for win_back: each person converts with the side's rate and spends SPEND."""
    rng = np.random.default_rng(seed)
    rows = []
    for side, size, rate in (("treated", treated, treated_rate), ("held_out", held_out, held_out_rate)):
        converted = rng.random(size) < rate
        for index, is_converted in enumerate(converted):
            rows.append(
                {
                    "comparison": "journey_holdout",
                    "journey": "win_back",
                    "side": side,
                    "expected_held_out_share": share,
                    "is_window_closed": index >= open_windows,
                    "is_converted": bool(is_converted),
                    "revenue": SPEND if is_converted else 0.0,
                }
            )
    rows += [{**rows[0], "side": "both"}] * both_sides
    return pd.DataFrame(rows)


def win_back(frame: pd.DataFrame) -> dict:
    lift, _ = measure_lift(frame, SETTINGS)
    return lift[lift["journey"] == "win_back"].iloc[0].to_dict()


def test_a_real_effect_gives_intervals_that_exclude_zero_and_hold_the_true_difference():
    # 40 % against 10 %: a difference of 0.30 in conversion and 0.30 * SPEND = 15 in revenue per person.
    row = win_back(persons(4500, 500, 0.40, 0.10))
    assert row["status"] == MEASURED
    assert 0 < row["conversion_rate_difference_lower"] <= 0.30 <= row["conversion_rate_difference_upper"]
    assert 0 < row["revenue_per_person_difference_lower"] <= 15 <= row["revenue_per_person_difference_upper"]
    assert row["conversion_rate_difference_p_value"] < 0.001
    assert row["revenue_per_person_difference_p_value"] < 0.001
    # The drawn rates, not the true ones, are what is reported.
    assert row["treated_conversions"] / row["treated_measured_persons"] == row["treated_conversion_rate"]
    assert row["has_sample_ratio_mismatch"] is False


def test_no_effect_gives_intervals_that_hold_zero():
    row = win_back(persons(4500, 500, 0.20, 0.20, seed=11))
    assert row["status"] == MEASURED
    assert row["conversion_rate_difference_lower"] < 0 < row["conversion_rate_difference_upper"]
    assert row["revenue_per_person_difference_lower"] < 0 < row["revenue_per_person_difference_upper"]
    assert row["conversion_rate_difference_p_value"] > 0.05


def test_a_split_far_from_the_holdout_share_raises_the_sample_ratio_flag():
    # A tenth should be held out; a third is.
    broken = win_back(persons(3000, 1500, 0.2, 0.2))
    assert broken["has_sample_ratio_mismatch"] is True
    assert broken["sample_ratio_p_value"] < SETTINGS.srm_alpha
    # The figures are still given: the flag says not to trust them.
    assert broken["status"] == MEASURED
    fair = win_back(persons(4500, 500, 0.2, 0.2))
    assert fair["has_sample_ratio_mismatch"] is False and fair["sample_ratio_p_value"] > 0.05


def test_too_few_persons_on_a_side_give_the_sizes_and_no_interval():
    row = win_back(persons(400, 12, 0.4, 0.1))
    assert row["status"] == TOO_FEW_PERSONS
    assert (
        "12 held-out persons" in row["status_reason"] and "cdp__lift_min_persons_per_side = 30" in row["status_reason"]
    )
    assert (row["treated_persons"], row["held_out_persons"]) == (400, 12)
    for column in (
        "conversion_rate_difference_lower",
        "revenue_per_person_difference_lower",
        "treated_conversion_rate",
    ):
        assert pd.isna(row[column]), column


def test_every_configured_journey_and_the_global_control_group_get_a_row():
    lift, report = measure_lift(persons(4500, 500, 0.4, 0.1).iloc[0:0], SETTINGS)
    assert sorted(zip(lift["comparison"], lift["journey"].fillna("-"), strict=True)) == [
        ("global_control", "-"),
        ("journey_holdout", "win_back"),
    ]
    assert set(lift["status"]) == {TOO_FEW_PERSONS} and set(lift["treated_persons"]) == {0}
    assert report.too_few_persons == 2


def test_open_windows_count_in_the_split_and_not_in_the_outcomes():
    row = win_back(persons(4500, 500, 0.4, 0.1, open_windows=100))
    assert (row["treated_persons"], row["held_out_persons"]) == (4500, 500)
    assert (row["treated_measured_persons"], row["held_out_measured_persons"]) == (4400, 400)


def test_persons_on_both_sides_are_counted_apart_and_measured_on_neither():
    row = win_back(persons(4500, 500, 0.4, 0.1, both_sides=3))
    assert row["both_sides_persons"] == 3
    assert (row["treated_persons"], row["held_out_persons"]) == (4500, 500)


def test_equal_revenue_everywhere_gives_no_revenue_interval():
    row = win_back(persons(200, 200, 0.0, 0.0, share=0.5))
    assert row["status"] == MEASURED and row["revenue_per_person_difference"] == 0
    assert pd.isna(row["revenue_per_person_difference_lower"])


@pytest.mark.parametrize(
    ("treated", "held_out", "share", "applies"),
    [(90, 10, 0.1, True), (45, 3, 0.1, False), (10, 0, 0.0, False)],
)
def test_the_sample_ratio_check_applies_only_where_chi_square_does(treated, held_out, share, applies):
    p_value = sample_ratio_check(treated, held_out, share)
    assert (p_value is not None) == applies
    if applies:
        # 90 against 10 is exactly the expected split.
        assert p_value == pytest.approx(1.0)
