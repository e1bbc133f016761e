"""Write iso_3166_countries.csv, the ISO 3166-1 alpha-2 country codes staging accepts.

    .venv/bin/python seeds/reference/generate_iso_3166_seed.py

From the tz database's iso3166.tab as the tzdata package ships it (public domain, "so
clarified as of 2009-05-17 by Arthur David Olson"; current as of ISO/TC 46 N1127,
2024-02-29, per the file's own header). Rerun after upgrading tzdata; the seed is
committed so that a build needs nothing at run time.
"""

from __future__ import annotations

import csv
from importlib import resources
from pathlib import Path

HERE = Path(__file__).resolve().parent


def countries() -> list[tuple[str, str]]:
    text = (resources.files("tzdata") / "zoneinfo" / "iso3166.tab").read_text(encoding="utf-8")
    rows = [line.split("\t", 1) for line in text.splitlines() if line and not line.startswith("#")]
    return sorted((code, name) for code, name in rows)


def main() -> None:
    with (HERE / "iso_3166_countries.csv").open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["country_code", "country_name"])
        writer.writerows(countries())


if __name__ == "__main__":
    main()
