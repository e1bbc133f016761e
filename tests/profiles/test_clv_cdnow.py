"""The CLV fit end to end: the CDNOW purchases land as raw `orders.csv` (and the customers
as `crm_customers.csv`), `cdp build --as-of` the end of the calibration period runs
staging, identity, fct_purchases, the fit and dim_persons, and the fitted parameters in
the warehouse match the published ones.

The published fit counts repeat purchases with same-day purchases combined and measures
time in weeks from each customer's first purchase to 30 Sep 1997; the warehouse does the
same (int_persons_clv_summarized, cdp__clv_time_unit_days = 7). Purchases after the
calibration period are in the files too: as of 30 Sep 1997 they are in the future, so
staging quarantines them instead of fitting on them."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cdp.cli import main
from cdp.contract import raw_contract
from tests.conftest import query, warehouse_at
from tests.profiles import cdnow

AS_OF = f"{cdnow.CALIBRATION_END}T23:59:59Z"


def write_raw_files(raw_dir: Path, purchases: list[dict]) -> None:
    with (raw_dir / "orders.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "order_id",
                "customer_id",
                "email",
                "phone",
                "anonymous_id",
                "channel",
                "ordered_at",
                "status",
                "currency",
                "total_amount",
                "discount_amount",
                "coupon_code",
            ]
        )
        for number, purchase in enumerate(purchases, start=1):
            writer.writerow(
                [
                    f"CD{number:05d}",
                    f"CDNOW-{purchase['customer']}",
                    "",
                    "",
                    "",
                    "web",
                    f"{purchase['date']}T12:00:00Z",
                    "delivered",
                    "USD",
                    purchase["amount"],
                    "",
                    "",
                ]
            )
    first_purchase = {}
    for purchase in purchases:
        first_purchase.setdefault(purchase["customer"], purchase["date"])
    with (raw_dir / "crm_customers.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(raw_contract()["crm_customers"].column_names)
        for customer, day in first_purchase.items():
            writer.writerow(
                [f"CDNOW-{customer}", "", "", "", "", "", "", "", "", "US", f"{day}T00:00:00Z", f"{day}T00:00:00Z"]
            )


@pytest.fixture(scope="module")
def cdnow_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    raw_dir = tmp_path_factory.mktemp("cdnow_raw")
    purchases = cdnow.transactions()
    write_raw_files(raw_dir, purchases)
    warehouse = tmp_path_factory.mktemp("cdnow") / "cdp.duckdb"
    with warehouse_at(warehouse):
        assert main(["build", "--raw-dir", str(raw_dir), "--as-of", AS_OF]) == 0
    return warehouse


def fitted(warehouse: Path, model: str) -> dict[str, tuple[float, int]]:
    rows = query(
        warehouse,
        """
        select parameter, parameter_value, sample_size from marts.fct_clv_model_fits
        where model = ? and fit_status = 'fitted'""",
        [model],
    )
    return {parameter: (value, sample_size) for parameter, value, sample_size in rows}


def test_bgnbd_fitted_in_the_warehouse_reproduces_the_published_parameters(cdnow_warehouse):
    parameters = fitted(cdnow_warehouse, "bgnbd")
    assert set(parameters) == set(cdnow.PUBLISHED_BGNBD)
    for name, published in cdnow.PUBLISHED_BGNBD.items():
        value, sample_size = parameters[name]
        assert sample_size == cdnow.CUSTOMERS
        assert value == pytest.approx(published, rel=0.01), name


def test_gamma_gamma_fitted_in_the_warehouse_reproduces_the_published_parameters(cdnow_warehouse):
    parameters = fitted(cdnow_warehouse, "gamma_gamma")
    for name, published in cdnow.PUBLISHED_GAMMA_GAMMA.items():
        assert parameters[name][0] == pytest.approx(published, rel=0.01), name


def test_every_cdnow_customer_gets_a_prediction_and_later_purchases_are_not_used(cdnow_warehouse):
    predicted, churn_in_range = query(
        cdnow_warehouse,
        """
        select count(predicted_clv_12m), count(*) filter (where churn_probability between 0 and 1)
        from marts.dim_persons""",
    )[0]
    assert predicted == churn_in_range == cdnow.CUSTOMERS
    after_calibration = sum(1 for purchase in cdnow.transactions() if purchase["date"] > cdnow.CALIBRATION_END)
    quarantined = query(
        cdnow_warehouse,
        """
        select count(*) from marts.fct_quarantined_rows
        where source_table = 'orders' and reason = 'timestamp_after_as_of'""",
    )[0][0]
    assert quarantined == after_calibration
