"""Write the plan's time-zone seeds from data shipped with Python packages.

    .venv/bin/python seeds/journeys/generate_time_zone_seeds.py

* country_time_zones.csv: one IANA time zone per ISO 3166 country, from the tz
  database's zone1970.tab as the tzdata package ships it (public domain). A country
  with several zones gets the first one tzdb lists for it: tzdb orders a country's zones
  "most populous first, where that does not contradict geography", and lists a zone
  shared by several countries under its most populous country first. Countries that
  only share another country's zone (LI under CH's Europe/Zurich) get that zone. For
  a few large countries tzdb's geographic order puts a thinly populated zone first
  (AU starts at Lord Howe Island, RU at Kaliningrad): OVERRIDES names their most
  populous zone instead, by hand.
* calling_code_countries.csv: the main country of every international calling code,
  from libphonenumber's metadata (the phonenumbers package): +1 is US, +44 GB, +7 RU.

Rerun after upgrading tzdata or phonenumbers; the seeds are committed so that a build
needs neither at run time.
"""

from __future__ import annotations

import csv
import zoneinfo
from importlib import resources
from pathlib import Path

import phonenumbers

HERE = Path(__file__).resolve().parent
# Countries whose first zone in zone1970.tab is not where most of their people live.
OVERRIDES = {
    "AU": "Australia/Sydney",
    "BR": "America/Sao_Paulo",
    "CA": "America/Toronto",
    "CD": "Africa/Kinshasa",
    "MY": "Asia/Kuala_Lumpur",
    "RU": "Europe/Moscow",
}


def country_time_zones() -> list[tuple[str, str]]:
    table = resources.files("tzdata").joinpath("zoneinfo", "zone1970.tab").read_text(encoding="utf-8")
    first_listed: dict[str, str] = {}
    anywhere: dict[str, str] = {}
    for line in table.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        countries, _coordinates, zone = line.split("\t")[:3]
        codes = countries.split(",")
        first_listed.setdefault(codes[0], zone)
        for code in codes:
            anywhere.setdefault(code, zone)
    chosen = {code: OVERRIDES.get(code, first_listed.get(code, zone)) for code, zone in anywhere.items()}
    unknown = sorted(set(chosen.values()) - zoneinfo.available_timezones())
    if unknown:
        raise SystemExit(f"not IANA time zones: {', '.join(unknown)}")
    return sorted(chosen.items())


def calling_code_countries() -> list[tuple[str, str]]:
    rows = []
    for code, regions in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.items():
        geographic = [region for region in regions if region != "001"]
        if geographic:
            rows.append((str(code), geographic[0]))
    return sorted(rows, key=lambda row: int(row[0]))


def write(name: str, header: tuple[str, str], rows: list[tuple[str, str]]) -> None:
    with (HERE / name).open("w", newline="") as file:
        writer = csv.writer(file, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


if __name__ == "__main__":
    write("country_time_zones.csv", ("country_code", "time_zone"), country_time_zones())
    write("calling_code_countries.csv", ("calling_code", "country_code"), calling_code_countries())
