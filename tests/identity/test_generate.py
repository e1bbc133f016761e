"""`cdp generate` writes contract-shaped raw files and a truth row for every person row."""

from __future__ import annotations

import csv
from datetime import timedelta

import duckdb
import pytest

from cdp.cli import main
from cdp.contract import raw_contract


def read(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_files_follow_the_contract_and_truth_covers_every_person_row(tmp_path):
    assert main(["generate", "--persons", "3000", "--seed", "5", "--out", str(tmp_path)]) == 0
    truth = read(tmp_path / "truth.csv")
    truth_keys = {(row["source_table"], row["source_key"]) for row in truth}
    person_tables = {row["source_table"] for row in truth}
    assert {
        "crm_customers",
        "loyalty_members",
        "orders",
        "pos_transactions",
        "web_events",
        "app_events",
    } <= person_tables
    for table in raw_contract().values():
        path = tmp_path / f"{table.name}.csv"
        if not path.exists():
            continue
        with path.open(newline="") as handle:
            assert next(csv.reader(handle)) == list(table.column_names)
        if table.name in person_tables:
            keys = {(table.name, row[table.key[0]]) for row in read(path)}
            assert keys <= truth_keys
            assert len(keys) == sum(1 for row in truth if row["source_table"] == table.name)
    cases = {row["truth_case"] for row in truth}
    assert {
        "crm_duplicate_with_typo",
        "guest_checkout",
        "shared_family_device",
        "junk_email",
        "store_phone_on_receipt",
    } <= cases


def test_same_seed_same_files(tmp_path):
    from cdp.generate import generate

    generate(200, 9, tmp_path / "a")
    generate(200, 9, tmp_path / "b")
    for path in (tmp_path / "a").iterdir():
        assert path.read_bytes() == (tmp_path / "b" / path.name).read_bytes()


def _one_edit(clean: str, dirty: str) -> str | None:
    """The keyboard error that turns `clean` into `dirty`, if one does."""
    if len(dirty) == len(clean) + 1 and any(dirty[:i] + dirty[i + 1 :] == clean for i in range(len(dirty))):
        return "insert"
    if len(dirty) == len(clean) - 1 and any(clean[:i] + clean[i + 1 :] == dirty for i in range(len(clean))):
        return "delete"
    if len(dirty) == len(clean):
        differ = [i for i in range(len(clean)) if clean[i] != dirty[i]]
        if len(differ) == 1:
            return "substitute"
        if len(differ) == 2 and differ[1] == differ[0] + 1 and clean[differ[0]] == dirty[differ[1]]:
            return "transpose"
    return None


def _respelling(clean: str, dirty: str, rules) -> bool:
    return any(clean.replace(written, misread, 1) == dirty for written, misread in rules if written in clean)


def test_duplicates_are_corrupted_the_way_record_linkage_benchmarks_are():
    """Every kind of error occurs, per field, in the duplicates of 20,000 clean records."""
    import numpy as np
    import pyarrow as pa

    from cdp import generate

    size = 20_000
    rng = np.random.default_rng(4)
    first = np.asarray(generate.FIRST_NAMES, dtype=object)[rng.integers(0, len(generate.FIRST_NAMES), size)]
    last = np.asarray(generate.LAST_NAMES, dtype=object)[rng.integers(0, len(generate.LAST_NAMES), size)]
    clean = {
        "first_name": first,
        "last_name": last,
        "birth_date": np.asarray([f"19{50 + i % 40}-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(size)], object),
        "house": np.asarray([str(10 + i % 190) for i in range(size)], object),
        "street_name": np.asarray(generate.STREETS, dtype=object)[rng.integers(0, len(generate.STREETS), size)],
        "city": np.asarray(["leicester"] * size, object),
        "postal_code": np.asarray([f"LE{1 + i % 20} {1 + i % 9}AB" for i in range(size)], object),
    }
    dirty = generate.corrupt_crm_records(
        np.random.default_rng(5), {k: pa.array(v, pa.string()) for k, v in clean.items()}
    )
    dirty = {name: column.to_pylist() for name, column in dirty.items()}
    kinds = {}

    def seen(field, kind):
        kinds[(field, kind)] = kinds.get((field, kind), 0) + 1

    changed_records = 0
    for i in range(size):
        changed = False
        names = (dirty["first_name"][i], dirty["last_name"][i])
        if names == (last[i].capitalize(), first[i].capitalize()):
            seen("names", "swapped")
            changed = True
        for field in ("first_name", "last_name", "city"):
            original, value = clean[field][i], dirty[field][i]
            if value is None:
                seen(field, "missing")
            elif value.lower() != original:
                value = value.lower()
                if field == "first_name" and generate.NICKNAMES.get(original) == value:
                    seen(field, "nickname")
                elif _respelling(original, value, generate.OCR_ERRORS):
                    seen(field, "ocr")
                elif _respelling(original, value, generate.PHONETIC_ERRORS):
                    seen(field, "phonetic")
                elif kind := _one_edit(original, value):
                    seen(field, kind)
            changed |= value != original
        born, date = clean["birth_date"][i], dirty["birth_date"][i]
        if date is None:
            seen("birth_date", "missing")
        elif date == f"{born[:5]}{born[8:]}-{born[5:7]}" and born[5:7] != born[8:]:
            seen("birth_date", "day_and_month_swapped")
        elif (kind := _one_edit(born, date)) in ("substitute", "transpose"):
            seen("birth_date", f"digit_{kind}")
        changed |= date != born
        postcode, code = clean["postal_code"][i].replace(" ", ""), dirty["postal_code"][i]
        if code is None:
            seen("postal_code", "missing")
        elif (kind := _one_edit(postcode, code.replace(" ", ""))) is not None:
            seen("postal_code", kind)
        changed |= code is None or code.replace(" ", "") != postcode
        street = f"{clean['house'][i]} {clean['street_name'][i].title()}"
        value = dirty["street"][i]
        if value is None:
            seen("street", "missing")
        elif value != street:
            house, _, name = value.partition(" ")
            if house != clean["house"][i] and name == clean["street_name"][i].title():
                seen("street", "house_number_digit")
            elif any(clean["street_name"][i].replace(w, s) == name.lower() for w, s in generate.STREET_SHORT.items()):
                seen("street", "abbreviated")
            elif _one_edit(clean["street_name"][i], name.lower()):
                seen("street", "keyboard")
            changed = True
        changed_records += changed
    expected = [
        *((field, kind) for field in ("first_name", "last_name", "city") for kind in ("missing", "ocr", "phonetic")),
        *(
            (field, kind)
            for field in ("first_name", "last_name", "city")
            for kind in ("insert", "delete", "substitute")
        ),
        ("first_name", "nickname"),
        ("names", "swapped"),
        ("birth_date", "missing"),
        ("birth_date", "day_and_month_swapped"),
        ("birth_date", "digit_substitute"),
        ("birth_date", "digit_transpose"),
        ("postal_code", "missing"),
        ("postal_code", "substitute"),
        ("postal_code", "transpose"),
        ("street", "missing"),
        ("street", "house_number_digit"),
        ("street", "abbreviated"),
        ("street", "keyboard"),
    ]
    assert [kind for kind in expected if not kinds.get(kind)] == []
    # an error may undo itself (a letter typed over by the same letter), rarely
    assert changed_records > 0.97 * size


def test_duplicates_share_no_email_or_phone_and_truth_names_each(tmp_path):
    assert main(["generate", "--persons", "20000", "--seed", "8", "--out", str(tmp_path)]) == 0
    truth = {row["source_key"]: row for row in read(tmp_path / "truth.csv") if row["source_table"] == "crm_customers"}
    records = read(tmp_path / "crm_customers.csv")
    assert {row["customer_id"] for row in records} == set(truth)
    contacts = {}
    for row in records:
        if truth[row["customer_id"]]["truth_case"] != "crm_duplicate_with_typo":
            contacts[truth[row["customer_id"]]["person_ref"]] = {row["email"].lower(), row["phone"]} - {""}
    duplicates = [row for row in records if truth[row["customer_id"]]["truth_case"] == "crm_duplicate_with_typo"]
    per_person = {}
    for row in duplicates:
        person = truth[row["customer_id"]]["person_ref"]
        per_person[person] = per_person.get(person, 0) + 1
        assert row["phone"] == ""
        assert not ({row["email"].lower()} - {""}) & contacts.get(person, set())
    assert set(per_person.values()) == {1, 2, 3, 4, 5}
    emails = [row["email"].lower() for row in duplicates if row["email"]]
    assert len(emails) == len(set(emails)) > 0.4 * len(duplicates)


# --- behaviour: purchases, carts, visits, consents, points --------------------------------

CAST_TYPES = {"timestamp": "timestamptz", "date": "date", "integer": "bigint", "double": "double"}


@pytest.fixture(scope="module")
def behaviour(tmp_path_factory):
    """3,000 generated persons as files, and loaded into a raw schema by the build's loader."""
    from cdp.generate import generate
    from cdp.raw_loader import load_raw_dir
    from cdp.warehouse import DuckDBWarehouse

    raw = tmp_path_factory.mktemp("behaviour") / "raw"
    generate(3000, 21, raw)
    warehouse = DuckDBWarehouse(raw.parent / "loaded.duckdb")
    try:
        report = load_raw_dir(warehouse, raw, raw_contract())
    finally:
        warehouse.conn.close()
    assert report.malformed_lines == 0
    return raw, duckdb.connect(str(raw.parent / "loaded.duckdb"), read_only=True)


def test_every_value_fits_the_contract(behaviour):
    """Keys unique and present, every typed value parses, enums in their lists, every
    moment before the as-of: what staging would otherwise quarantine."""
    from cdp.generate import DEFAULT_AS_OF

    _, conn = behaviour
    written = set()
    for table in raw_contract().values():
        rows = conn.execute(f"select count(*) from raw.{table.name}").fetchone()[0]
        if not rows:
            continue
        written.add(table.name)
        key = ", ".join(table.key)
        duplicates = conn.execute(
            f"select count(*) from (select {key} from raw.{table.name} group by {key} having count(*) > 1)"
        ).fetchone()[0]
        assert duplicates == 0, f"{table.name}: {duplicates} duplicate keys"
        for column in table.columns:
            # an empty CSV field is an absent value
            name, kind = f"nullif({column.name}, '')", column.data_type
            checks = [] if column.name not in table.key else [f"{name} is null"]
            cast = CAST_TYPES.get(kind) or (kind if kind.startswith("decimal") else None)
            if cast:
                # a duplicate CRM record's birth date may be mistyped into no date at all, on purpose
                mistyped = (
                    " and customer_id not like 'D%'"
                    if (table.name, column.name) == ("crm_customers", "birth_date")
                    else ""
                )
                checks.append(f"{name} is not null and try_cast({name} as {cast}) is null{mistyped}")
            # event times may not lie after the as-of moment (an expiry date may)
            if kind == "timestamp" and ("Required" in column.description or column.name in ("updated_at", "closed_at")):
                checks.append(f"try_cast({name} as timestamptz) >= timestamptz '{DEFAULT_AS_OF.isoformat()}Z'")
            if column.accepted_values:
                listed = ", ".join(f"'{value}'" for value in column.accepted_values)
                checks.append(f"{name} is not null and {name} not in ({listed})")
            for check in checks:
                bad = conn.execute(f"select count(*) from raw.{table.name} where {check}").fetchone()[0]
                assert bad == 0, f"{table.name}: {bad} rows where {check}"
    assert {"consents", "loyalty_points", "orders", "pos_transactions", "web_events", "app_events"} <= written


def _persons_of(raw, table: str) -> dict[str, str]:
    return {row["source_key"]: row["person_ref"] for row in read(raw / "truth.csv") if row["source_table"] == table}


def test_most_persons_consent_to_some_channel_and_some_revoke_later(behaviour):
    raw, conn = behaviour
    crm_person = _persons_of(raw, "crm_customers")
    person_of_email = {
        row["email"].lower(): crm_person[row["customer_id"]] for row in read(raw / "crm_customers.csv") if row["email"]
    }
    granted = {
        person_of_email[value]
        for (value,) in conn.execute(
            "select lower(subject_value) from raw.consents where subject_type = 'email' and status = 'granted'"
        ).fetchall()
        if value in person_of_email
    }
    crm_persons = set(crm_person.values())
    assert len(granted & crm_persons) > 0.6 * len(crm_persons)
    channels = dict(conn.execute("select channel, count(*) from raw.consents group by channel").fetchall())
    assert set(channels) == {"email", "sms", "whatsapp", "app_push", "web_push"}
    later_revoked, granted_subjects = conn.execute(
        """select count(distinct case when revoked.subject_value is not null then granted.subject_value end),
                  count(distinct granted.subject_value)
           from raw.consents as granted
           left join raw.consents as revoked
             on revoked.subject_type = granted.subject_type and revoked.subject_value = granted.subject_value
            and revoked.channel = granted.channel and revoked.status = 'revoked'
            and revoked.recorded_at > granted.recorded_at
           where granted.status = 'granted'"""
    ).fetchone()
    assert 0.05 * granted_subjects < later_revoked < 0.25 * granted_subjects
    # the app's permission prompt answers with the consent: push opt-ins carry a token
    opt_ins = conn.execute(
        "select count(*) from raw.app_events where event_type = 'push_opt_in' and push_token is not null"
    ).fetchone()[0]
    assert (
        opt_ins
        == channels["app_push"]
        - conn.execute(
            "select count(*) from raw.consents where channel = 'app_push' and status = 'revoked'"
        ).fetchone()[0]
    )


def test_carts_end_online_in_a_store_or_not_at_all(behaviour):
    """Cart adds of the last weeks, by the true person: some bought online, some bought in a
    store within two days (the "bought in the store" case), some left."""
    raw, conn = behaviour
    person = {("web", key): ref for key, ref in _persons_of(raw, "web_events").items()} | {
        ("app", key): ref for key, ref in _persons_of(raw, "app_events").items()
    }
    receipts = _persons_of(raw, "pos_transactions")
    orders = _persons_of(raw, "orders")
    adds = conn.execute(
        """select 'web', event_id, product_id, cast(occurred_at as timestamptz) from raw.web_events
           where event_type = 'add_to_cart'
           union all
           select 'app', event_id, product_id, cast(occurred_at as timestamptz) from raw.app_events
           where event_type = 'add_to_cart'"""
    ).fetchall()
    bought = {}
    for source, query_text in (
        (
            receipts,
            """select receipt_id, product_id, cast(transacted_at as timestamptz)
               from raw.pos_transactions join raw.pos_lines using (receipt_id)""",
        ),
        (
            orders,
            """select order_id, product_id, cast(ordered_at as timestamptz)
               from raw.orders join raw.order_lines using (order_id)""",
        ),
    ):
        for key, product, moment in conn.execute(query_text).fetchall():
            bought.setdefault((source[key], product), []).append((moment, source is receipts))
    outcomes = {"store": 0, "online": 0, "left": 0}
    for site, event_id, product, added_at in adds:
        after = [
            in_store
            for moment, in_store in bought.get((person[(site, event_id)], product), [])
            if added_at < moment <= added_at + timedelta(days=2)
        ]
        outcomes["store" if True in after else "online" if after else "left"] += 1
    assert min(outcomes.values()) > 0.05 * len(adds), outcomes
    # an app user's store purchase after a cart comes with a store visit in the app
    visits = conn.execute(
        "select count(*) from raw.app_events where event_type = 'store_visit' and store_id is not null"
    ).fetchone()[0]
    assert visits > 0


def test_purchase_histories_follow_the_models_the_clv_fit_assumes():
    """The BG/NBD fit recovers the parameters the histories were drawn with (within 15 %)."""
    import numpy as np

    from cdp import generate
    from cdp.clv.models import fit_bgnbd

    end = np.datetime64(generate.DEFAULT_AS_OF, "s")
    history = generate.simulate_purchase_histories(
        np.random.default_rng(3), np.full(10_000, end - generate.HISTORY), end
    )
    days = history.moment.astype("datetime64[D]")
    persons, first = np.unique(history.person, return_index=True)
    last = np.r_[first[1:], len(history.person)] - 1
    # purchases on one day are one transaction, as the warehouse's summary counts them
    distinct_days = np.array([len(np.unique(days[i : j + 1])) for i, j in zip(first, last, strict=True)])
    x = distinct_days - 1.0
    t_x = (days[last] - days[first]).astype(float) / 7
    T = (end.astype("datetime64[D]") - days[first]).astype(float) / 7
    fitted = fit_bgnbd(x[T > 0], t_x[T > 0], T[T > 0])
    for name, truth in {
        "r": generate.BGNBD_R,
        "alpha": generate.BGNBD_ALPHA,
        "a": generate.BGNBD_A,
        "b": generate.BGNBD_B,
    }.items():
        assert abs(getattr(fitted, name) / truth - 1) < 0.15, (name, getattr(fitted, name), truth)
    assert len(persons) > 0.75 * 10_000
    # heterogeneous: one-off buyers, and repeat buyers of very different frequency and spend
    assert 0.3 < (x == 0).mean() < 0.7 and np.percentile(x, 99) >= 10 * max(np.median(x), 1)
    assert np.percentile(history.amount, 90) > 3 * np.percentile(history.amount, 10)


def test_as_of_moves_every_timestamp(tmp_path):
    from datetime import datetime

    from cdp.generate import generate

    generate(300, 2, tmp_path / "early", as_of=datetime(2025, 3, 1, 12, 0))
    latest = max(row["occurred_at"] for row in read(tmp_path / "early" / "web_events.csv"))
    assert "2025-02" <= latest < "2025-03-01T12:00:00Z"
