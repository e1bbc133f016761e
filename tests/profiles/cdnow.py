"""The CDNOW sample (2,357 customers who first bought in Q1 1997, their purchases to
June 1998), as shipped in the `lifetimes` package's data folder (MIT licence; original
data from Fader and Hardie). Only the data files are used, never the package's code:
it is unmaintained and fails on current pandas."""

from __future__ import annotations

import csv
from importlib import metadata
from pathlib import Path

# Fader, Hardie and Lee (2005), "Counting your customers the easy way", Marketing
# Science 24(2): BG/NBD on the 39-week calibration period.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LOG_LIKELIHOOD = -9582.4
# Fader, Hardie and Lee (2005), "RFM and CLV: using iso-value curves", JMR 42(4):
# Gamma-Gamma on the 946 calibration customers with repeat purchases.
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
CUSTOMERS = 2357
CALIBRATION_END = "1997-09-30"


def dataset(name: str) -> Path:
    files = metadata.files("lifetimes") or []
    for file in files:
        if str(file).replace("\\", "/").endswith(f"lifetimes/datasets/{name}"):
            return Path(file.locate())
    raise FileNotFoundError(f"{name} is not in the installed lifetimes package")


def transactions() -> list[dict]:
    """One dict per CDNOW purchase: customer (sample id), date (YYYY-MM-DD), amount (text)."""
    rows = []
    for line in dataset("CDNOW_sample.txt").read_text().splitlines():
        _master_id, customer, day, _quantity, amount = line.split()
        rows.append({"customer": customer, "date": f"{day[:4]}-{day[4:6]}-{day[6:]}", "amount": amount})
    return rows


def calibration_summary() -> list[dict]:
    """The published per-customer summary (x, t_x, T in weeks, average repeat spend)."""
    with dataset("cdnow_customers_summary_with_transactions.csv").open() as handle:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]
