"""Every comparison level of the matching model, on hand-made record pairs through the real Splink settings."""

from __future__ import annotations

import logging
from datetime import datetime

import duckdb
import pyarrow as pa
import pytest

from cdp import linkage

pytestmark = pytest.mark.slow

BASE = {
    "first_name": "jonathan",
    "last_name": "hargreaves",
    "birth_date": "1980-03-07",
    "street_number": "12",
    "street_name": "kings road",
    "city": "leeds",
    "postal_code": "LS12AB",
    "email": "jon.h@example.com",
    "phone": "+447700900123",
}


def record(unique_id: str, **changes) -> dict:
    values = {**BASE, **changes}
    return {
        "unique_id": unique_id,
        **values,
        "last_name_key": None,
        "first_initial": (values["first_name"] or "")[:1] or None,
    }


@pytest.fixture(scope="module")
def compare():
    """(comparison, changes to the second record) -> the label of the level the pair falls in."""
    from splink import DuckDBAPI, Linker

    database = duckdb.connect()
    # unrelated records beside the pair, so that term frequencies are not all 1
    others = [record(f"x{i}", first_name=f"name{i}", last_name=f"other{i}", birth_date="1999-01-01") for i in range(5)]

    def linker_for(records: list[dict]):
        table = pa.Table.from_pylist(records)
        return Linker(DuckDBAPI(database).register(table), linkage.splink_settings(), log_level=logging.WARNING)

    model = linkage._model_table(linker_for(others), ("priors", None, 0, 0), len(others), datetime(2026, 1, 1))
    labels = {(row["comparison_name"], row["comparison_level"]): row["level_label"] for row in model.to_pylist()}

    def level(comparison: str, first: dict | None = None, **changes) -> str:
        linker = linker_for([record("a", **(first or {})), record("b", **changes), *others])
        pairs = linker.inference.predict().as_pyarrow_table().to_pylist()
        (pair,) = [row for row in pairs if {row["unique_id_l"], row["unique_id_r"]} == {"a", "b"}]
        return labels[(comparison, pair[f"gamma_{comparison}"])]

    yield level
    database.close()


@pytest.mark.parametrize("name", ["first_name", "last_name"])
def test_name_levels(compare, name):
    assert compare(name) == "exact"
    assert compare(name, **{name: None}) == "missing"
    assert compare(name, **{name: "jonathon" if name == "first_name" else "hargraves"}) == "jaro_winkler_0.92"
    assert compare(name, **{name: "jonas" if name == "first_name" else "hargrove"}) == "jaro_winkler_0.80"
    assert compare(name, **{name: "sophie" if name == "first_name" else "mitchell"}) == "different"
    # one piece of evidence: first_name counts it, last_name recognises it at weight 0
    swapped = "swapped" if name == "first_name" else "swapped_counted_under_first_name"
    assert compare(name, first_name="hargreaves", last_name="jonathan") == swapped


def test_birth_date_levels(compare):
    assert compare("birth_date") == "exact"
    assert compare("birth_date", birth_date="1980-07-03") == "day_and_month_swapped"
    assert compare("birth_date", birth_date="1980-03-08") == "one_character"
    assert compare("birth_date", birth_date="1908-03-07") == "one_character"  # a repeated digit
    assert compare("birth_date", birth_date="1980-30-07") == "one_character"  # neighbours exchanged
    assert compare("birth_date", birth_date="1908-30-07") == "different"
    assert compare("birth_date", birth_date="1980-12-25") == "different"
    assert compare("birth_date", birth_date="1975-11-22") == "different"
    assert compare("birth_date", birth_date=None) == "missing"


def test_address_levels(compare):
    assert compare("address") == "same_address"
    assert compare("address", street_name="kings rd", postal_code="LS12AD") == "same_house_and_postcode_with_typos"
    assert compare("address", street_number="21", street_name="kimgs road", postal_code="LS21AB") == (
        "same_house_and_postcode_with_typos"
    )
    assert compare("address", street_number="40", street_name="mill lane") == "same_postcode"
    assert compare("address", street_number="13", postal_code=None) == "same_house_and_city"
    assert compare("address", street_name="kings rd", postal_code="LS99ZZ") == "same_house_and_city"
    assert compare("address", street_number="40", postal_code="M11AA") == "same_street_and_city"
    assert compare("address", street_number="40", street_name="mill lane", postal_code="LS92XY") == (
        "same_city_or_postcode_with_typo"
    )
    assert compare("address", street_number="40", street_name="mill lane", city="york", postal_code="LS12AC") == (
        "same_city_or_postcode_with_typo"
    )
    assert compare("address", street_number="7", street_name="mill lane", city="bristol", postal_code="BS11AA") == (
        "different"
    )
    assert compare("address", street_name=None, city=None, postal_code=None) == "missing"


def test_email_and_phone_levels(compare):
    assert compare("email") == "exact"
    assert compare("email", email="jon.h@example.net") == "same_user_name"
    assert compare("email", email="jon.hh@example.com") == "different"  # no similarity level on e-mails
    assert compare("email", email="sophie@example.org") == "different"
    assert compare("email", email=None) == "missing"
    assert compare("phone") == "exact"
    assert compare("phone", phone="+447700900124") == "one_digit"
    assert compare("phone", phone="+447911123456") == "different"
    assert compare("phone", phone=None) == "missing"


def test_a_difference_counts_against_and_a_missing_value_is_neutral():
    from splink import DuckDBAPI, Linker

    with duckdb.connect() as database:
        linker = Linker(
            DuckDBAPI(database).register(pa.Table.from_pylist([record("a")])),
            linkage.splink_settings(),
            log_level=logging.WARNING,
        )
        model = linkage._model_table(linker, ("priors", None, 0, 0), 1, datetime(2026, 1, 1)).to_pylist()
    for row in model:
        if row["is_null_level"]:
            assert row["match_weight"] is None, row
        elif row["level_label"] == "different":
            assert row["match_weight"] < 0, row
        elif row["m_source"] == "counted_elsewhere":
            assert row["match_weight"] == 0, row
        else:
            assert row["match_weight"] > 0, row
    sources = {row["m_source"] for row in model if not row["is_null_level"]}
    assert sources == {"prior", "counted_elsewhere"}


def test_phonetic_key_is_the_same_on_common_misspellings():
    names = ["smith", "smyth", "smiht", "hall", "hal", "philips", "phillips", "jones", "johns"]
    with duckdb.connect() as conn:
        keys = dict(
            conn.execute(
                f"select name, {linkage.phonetic_key_sql('name')} from unnest(?) as names(name)", [names]
            ).fetchall()
        )
    assert keys["smith"] == keys["smyth"] == keys["smiht"]
    assert keys["hall"] == keys["hal"]
    assert keys["philips"] == keys["phillips"]
    assert keys["jones"] == keys["johns"]
    assert keys["smith"] != keys["jones"]


def test_one_character_shortcut_agrees_with_the_distance_everywhere():
    """The guard in front of Damerau-Levenshtein skips only pairs more than one edit apart."""
    import random

    random.seed(3)
    alphabet = "ab1-"
    pairs = []
    for _ in range(5000):
        left = "".join(random.choice(alphabet) for _ in range(random.randint(0, 9)))
        right = list(left)
        for _ in range(random.randint(0, 2)):
            position = random.randint(0, len(right))
            operation = random.choice("isdt")
            if operation == "i":
                right.insert(position, random.choice(alphabet))
            elif operation == "s" and position < len(right):
                right[position] = random.choice(alphabet)
            elif operation == "d" and position < len(right):
                del right[position]
            elif operation == "t" and position + 1 < len(right):
                right[position], right[position + 1] = right[position + 1], right[position]
        pairs.append((left, "".join(right)))
    condition = linkage._one_character("email").get_comparison_level("duckdb").sql_condition
    with duckdb.connect() as conn:
        conn.execute("create table pairs (email_l varchar, email_r varchar)")
        conn.executemany("insert into pairs values (?, ?)", pairs)
        disagreements, within_one = conn.execute(
            f"""select count(*) filter (where ({condition}) <> (damerau_levenshtein(email_l, email_r) <= 1)),
                       count(*) filter (where damerau_levenshtein(email_l, email_r) <= 1)
                from pairs"""
        ).fetchone()
    assert within_one > 1000
    assert disagreements == 0
