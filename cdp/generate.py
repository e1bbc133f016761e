"""`cdp generate`: synthetic raw source files with the true person of every row.

The files follow the raw source contract (`cdp.contract.raw_contract()`), so `cdp build
--raw-dir DIR` builds them like a retailer's own. `truth.csv` (not a contract table)
names, for every row that belongs to a person, that person and the case the row
illustrates, so that tests can measure how well person_id recovers the truth.

What makes it hard, on purpose: people fragmented across CRM, loyalty, web, app, orders
and tills; guest checkouts; e-mails in other letter cases; phones in national format;
duplicate CRM records with typos and no shared identifier; family members sharing a
tablet or a payment card; staff typing the store's own phone; placeholder e-mails.

Everything is drawn with numpy and assembled column-wise with pyarrow, so a million
persons take well under a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet

from cdp.contract import raw_contract

FIRST_NAMES = (
    "olivia amelia isla ava mia ivy lily isabella sophia grace freya emily ella poppy evie charlotte "
    "noah oliver george arthur leo harry oscar archie henry theo jack charlie freddie alfie thomas james "
    "maria priya anita raj ahmed fatima omar aisha chen wei lucas ethan sophie chloe zoe hannah liam emma"
).split()
LAST_NAMES = (
    "smith jones taylor brown williams wilson johnson davies patel robinson wright thompson evans walker "
    "white roberts green hall thomas clarke jackson wood harris edwards turner martin cooper hill ward "
    "hughes moore clark king harrison lewis baker lee allen morris khan scott watson davis parker price "
    "bennett young griffiths mitchell kelly cook carter richardson bailey collins bell shaw murphy miller"
).split()
STREETS = "high street|station road|church lane|park avenue|mill road|kings road|queen street|victoria road|the green|manor way".split("|")
STREET_SHORT = {"street": "st", "road": "rd", "lane": "ln", "avenue": "ave"}
CITIES = ["London", "Manchester", "Leeds", "Leicester", "Bristol", "Birmingham"]
AREAS = ["N", "E", "SW", "W", "M", "LS", "LE", "BS", "B"]
JUNK_EMAILS = ["test@test.com", "noemail@example.com", "TEST@TEST.COM", "none@none.com"]
EPOCH = np.datetime64("2023-01-01T00:00:00", "s")
SPAN_SECONDS = int((np.datetime64("2026-11-01T00:00:00", "s") - EPOCH).astype(int))


@dataclass
class Population:
    persons: int
    seed: int


def _pick(rng: np.random.Generator, options, size: int) -> pa.Array:
    return pa.array(np.asarray(options, dtype=object)[rng.integers(0, len(options), size)], pa.string())


def _fmt(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return pa.array(np.char.add(prefix, np.char.zfill(numbers.astype(str), width)).astype(object), pa.string())


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _timestamps(rng: np.random.Generator, size: int) -> pa.Array:
    seconds = rng.integers(0, SPAN_SECONDS, size)
    text = np.datetime_as_string(EPOCH + seconds.astype("timedelta64[s]"), unit="s")
    return pa.array(np.char.add(text, "Z").astype(object), pa.string())


def _mask(array: pa.Array, keep: np.ndarray) -> pa.Array:
    """Nulls where `keep` is false (an absent value in a raw file)."""
    return pc.if_else(pa.array(keep), array, pa.nulls(len(array), pa.string()))


def _take(array: pa.Array, index: np.ndarray) -> pa.Array:
    return array.take(pa.array(index))


class _Writer:
    def __init__(self, out: Path, file_format: str):
        self.out, self.file_format = out, file_format
        self.contract = raw_contract()
        self.truth: list[pa.Table] = []

    def write(self, table: str, columns: dict[str, pa.Array], person: np.ndarray | None = None, case: pa.Array | None = None) -> None:
        spec = self.contract[table]
        size = len(next(iter(columns.values())))
        data = pa.table({name: columns.get(name, pa.nulls(size, pa.string())) for name in spec.column_names})
        if self.file_format == "parquet":
            pa_parquet.write_table(data, self.out / f"{table}.parquet")
        else:
            pa_csv.write_csv(data, self.out / f"{table}.csv")
        if person is not None:
            key = data.column(spec.key[0]) if len(spec.key) == 1 else None
            self.truth.append(
                pa.table(
                    {
                        "source_table": pa.array([table] * size, pa.string()),
                        "source_key": key,
                        "person_ref": _fmt("T", person, 8),
                        "truth_case": case if case is not None else pa.nulls(size, pa.string()),
                    }
                )
            )

    def finish(self) -> None:
        pa_csv.write_csv(pa.concat_tables(self.truth), self.out / "truth.csv")


def generate(persons: int, seed: int, out: Path, file_format: str = "csv") -> dict[str, int]:
    """Write the raw files and truth.csv for `persons` people; return rows per table."""
    if persons < 2:
        raise ValueError("--persons must be at least 2")
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    writer = _Writer(out, file_format)
    n = persons
    ids = np.arange(n)

    first = _pick(rng, FIRST_NAMES, n)
    last = _pick(rng, LAST_NAMES, n)
    first_cap = pc.utf8_capitalize(first)
    last_cap = pc.utf8_capitalize(last)
    email = _join(first, ".", last, ".", pa.array(ids.astype(str).astype(object), pa.string()), "@example.com")
    mobile_digits = rng.integers(400_000_000, 999_999_999, n)  # 07400 000000 .. 07999 999999: UK mobile ranges
    phone_e164 = _fmt("+447", mobile_digits, 9)
    phone_national = _join("07", pc.utf8_slice_codeunits(_fmt("", mobile_digits, 9), 0, 3), " ", pc.utf8_slice_codeunits(_fmt("", mobile_digits, 9), 3, 9))
    birth = np.datetime_as_string(np.datetime64("1950-01-01") + rng.integers(0, 20_000, n).astype("timedelta64[D]"), unit="D")
    birth_date = pa.array(birth.astype(object), pa.string())
    house = pa.array(rng.integers(1, 200, n).astype(str).astype(object), pa.string())
    street_name = _pick(rng, STREETS, n)
    area = _pick(rng, AREAS, n)
    outward = _join(area, pa.array(rng.integers(1, 30, n).astype(str).astype(object), pa.string()))
    inward = _join(pa.array(rng.integers(1, 10, n).astype(str).astype(object), pa.string()), _pick(rng, list("ABDEFGHJLNPQRSTUWXYZ"), n), _pick(rng, list("ABDEFGHJLNPQRSTUWXYZ"), n))
    postal_code = _join(outward, " ", inward)
    city = _pick(rng, CITIES, n)
    # Half the family links: person i+1 shares something with person i.
    in_family = (rng.random(n) < 0.04) & (ids > 0)

    # --- CRM ---------------------------------------------------------------------------
    has_crm = rng.random(n) < 0.85
    crm_id = _fmt("C", ids, 8)
    crm_people = ids[has_crm]
    shown_email = pc.if_else(pa.array(rng.random(n) < 0.2), pc.utf8_upper(email), email)
    # duplicate CRM records made at a store enrolment: typo in the surname, street
    # abbreviated, postcode without its space, and no identifier in common
    has_duplicate = has_crm & (rng.random(n) < 0.03)
    dup_people = ids[has_duplicate]
    dup_id = _fmt("D", ids, 8)
    typo_last = _join(pc.utf8_slice_codeunits(last_cap, 0, 2), pc.utf8_slice_codeunits(last_cap, 3, 40))
    short_street = street_name
    for word, short in STREET_SHORT.items():
        short_street = pc.replace_substring(short_street, word, short)
    created = _timestamps(rng, n)
    crm_rows = {
        "customer_id": pa.concat_arrays([_take(crm_id, crm_people), _take(dup_id, dup_people)]),
        "email": pa.concat_arrays([_take(shown_email, crm_people), pa.nulls(len(dup_people), pa.string())]),
        "phone": pa.concat_arrays([_take(_mask(phone_national, rng.random(n) < 0.7), crm_people), pa.nulls(len(dup_people), pa.string())]),
        "first_name": pa.concat_arrays([_take(first_cap, crm_people), _take(first_cap, dup_people)]),
        "last_name": pa.concat_arrays([_take(last_cap, crm_people), _take(typo_last, dup_people)]),
        "birth_date": pa.concat_arrays([_take(birth_date, crm_people), _take(birth_date, dup_people)]),
        "street": pa.concat_arrays([_take(_join(house, " ", pc.utf8_title(street_name)), crm_people), _take(_join(house, " ", pc.utf8_title(short_street)), dup_people)]),
        "city": pa.concat_arrays([_take(city, crm_people), _take(city, dup_people)]),
        "postal_code": pa.concat_arrays([_take(postal_code, crm_people), _take(pc.replace_substring(postal_code, " ", ""), dup_people)]),
        "country": pa.array(["GB"] * (len(crm_people) + len(dup_people)), pa.string()),
        "created_at": pa.concat_arrays([_take(created, crm_people), _take(created, dup_people)]),
        "updated_at": pa.concat_arrays([_take(created, crm_people), _take(created, dup_people)]),
    }
    crm_case = pa.array(["crm_record"] * len(crm_people) + ["crm_duplicate_with_typo"] * len(dup_people), pa.string())
    writer.write("crm_customers", crm_rows, np.concatenate([crm_people, dup_people]), crm_case)

    # --- loyalty -----------------------------------------------------------------------
    has_card = (rng.random(n) < 0.5) | has_duplicate
    card_people = ids[has_card]
    card_id = _fmt("L", ids, 8)
    # every card carries something that ties it to its holder (a CRM id, an e-mail or a phone)
    card_has_customer = has_duplicate | (has_crm & (rng.random(n) < 0.7))
    card_customer = pc.if_else(pa.array(has_duplicate), dup_id, _mask(crm_id, card_has_customer))
    card_email = _mask(pc.if_else(pa.array(rng.random(n) < 0.5), pc.utf8_upper(email), email), ~has_duplicate & ((rng.random(n) < 0.6) | ~card_has_customer))
    card_phone = _mask(pc.if_else(pa.array(rng.random(n) < 0.5), phone_national, phone_e164), ~has_duplicate & (rng.random(n) < 0.5))
    writer.write(
        "loyalty_members",
        {
            "loyalty_card_id": _take(card_id, card_people),
            "customer_id": _take(card_customer, card_people),
            "email": _take(card_email, card_people),
            "phone": _take(card_phone, card_people),
            "enrolled_at": _take(created, card_people),
            "status": pa.array(["active"] * len(card_people), pa.string()),
        },
        card_people,
        pa.array(np.where(has_duplicate[card_people], "crm_duplicate_with_typo", "loyalty_member").astype(object), pa.string()),
    )

    # --- web: one or two browsers per person, page views, logins, newsletter sign-ups ---
    browsers = rng.integers(0, 3, n)
    browser_person = np.repeat(ids, browsers)
    browser_number = np.concatenate([np.arange(k) for k in browsers]) if len(browser_person) else np.array([], int)
    anonymous_id = _join(_fmt("A", browser_person, 8), "-", pa.array(browser_number.astype(str).astype(object), pa.string()))
    b = len(browser_person)
    # every browser identifies once (a login, else a newsletter sign-up); browsers that
    # never do are strangers to everyone, and are not what this data is for
    logged_in = has_crm[browser_person] & (rng.random(b) < 0.6)
    signed_up = ~logged_in
    events_person = np.concatenate([browser_person, browser_person])
    event_anonymous = pa.concat_arrays([anonymous_id, anonymous_id])
    event_customer = pa.concat_arrays([pa.nulls(b, pa.string()), _mask(_take(crm_id, browser_person), logged_in)])
    event_email = pa.concat_arrays([pa.nulls(b, pa.string()), _mask(_take(email, browser_person), signed_up)])
    event_type = pa.concat_arrays([pa.array(["page_view"] * b, pa.string()), pa.array(np.where(logged_in, "login", np.where(signed_up, "newsletter_signup", "product_view")).astype(object), pa.string())])
    writer.write(
        "web_events",
        {
            "event_id": _fmt("W", np.arange(2 * b), 10),
            "anonymous_id": event_anonymous,
            "customer_id": event_customer,
            "email": event_email,
            "event_type": event_type,
            "occurred_at": _timestamps(rng, 2 * b),
            "page_url": pa.array(["https://shop.example.com/"] * (2 * b), pa.string()),
        },
        events_person,
    )

    # --- orders: logged-in and guest checkouts, some with placeholder e-mails ----------
    counts = rng.integers(0, 3, b)
    order_person = np.repeat(browser_person, counts)
    order_browser = np.repeat(np.arange(b), counts)
    o = len(order_person)
    guest = ~has_crm[order_person] | (rng.random(o) < 0.3)
    junk = guest & (rng.random(o) < 0.01)
    order_email = pc.if_else(pa.array(junk), _pick(rng, JUNK_EMAILS, o), _take(shown_email, order_person))
    writer.write(
        "orders",
        {
            "order_id": _fmt("O", np.arange(o), 10),
            "customer_id": _mask(_take(crm_id, order_person), ~guest),
            "email": order_email,
            "phone": _mask(_take(phone_national, order_person), guest & ~junk & (rng.random(o) < 0.5)),
            "anonymous_id": _take(anonymous_id, order_browser),
            "channel": pa.array(["web"] * o, pa.string()),
            "ordered_at": _timestamps(rng, o),
            "status": pa.array(["delivered"] * o, pa.string()),
            "currency": pa.array(["GBP"] * o, pa.string()),
            "total_amount": pa.array(["25.00"] * o, pa.string()),
            "discount_amount": pa.array(["0.00"] * o, pa.string()),
        },
        order_person,
        pa.array(np.where(junk, "junk_email", np.where(guest, "guest_checkout", "order")).astype(object), pa.string()),
    )
    writer.write(
        "order_lines",
        {
            "order_id": _fmt("O", np.arange(o), 10),
            "line_number": pa.array(["1"] * o, pa.string()),
            "product_id": pa.array(["P001"] * o, pa.string()),
            "quantity": pa.array(["1"] * o, pa.string()),
            "unit_price": pa.array(["25.00"] * o, pa.string()),
        },
    )

    # --- app: a device per app user; family members log in on each other's tablet ------
    has_app = has_crm & (rng.random(n) < 0.35)
    app_people = ids[has_app]
    device = _fmt("DEV", ids, 8)
    token = _fmt("PT", ids, 8)
    family_login = in_family & has_app & has_crm & np.roll(has_app & has_crm, 1)
    borrowers = ids[family_login]  # log in on the previous person's device
    a = len(app_people)
    app_logged = np.ones(a, bool)
    writer.write(
        "app_events",
        {
            "event_id": _fmt("E", np.arange(a + len(borrowers)), 10),
            "device_id": pa.concat_arrays([_take(device, app_people), _take(device, borrowers - 1)]),
            "customer_id": pa.concat_arrays([_mask(_take(crm_id, app_people), app_logged), _take(crm_id, borrowers)]),
            "push_token": pa.concat_arrays([_take(token, app_people), pa.nulls(len(borrowers), pa.string())]),
            "platform": pa.array(["ios"] * (a + len(borrowers)), pa.string()),
            "event_type": pa.array(["app_open"] * (a + len(borrowers)), pa.string()),
            "occurred_at": _timestamps(rng, a + len(borrowers)),
        },
        np.concatenate([app_people, borrowers]),
        pa.array(["app_user"] * a + ["shared_family_device"] * len(borrowers), pa.string()),
    )

    # --- stores: receipts with the card, a payment card, sometimes the store's phone ----
    receipts = rng.integers(0, 3, n) * (has_card | (rng.random(n) < 0.3))
    receipt_person = np.repeat(ids, receipts)
    r = len(receipt_person)
    fingerprint_owner = np.where(in_family[receipt_person] & (rng.random(r) < 0.5), receipt_person - 1, receipt_person)
    store_phone = rng.random(r) < 0.02
    # one store per 50,000 customers: each store's phone ends up on many receipts
    stores = max(3, min(99, n // 50_000))
    store_numbers = pa.array(["020 7946 00%02d" % s for s in range(stores)], pa.string())
    writer.write(
        "pos_transactions",
        {
            "receipt_id": _fmt("R", np.arange(r), 10),
            "store_id": pa.array(["S01"] * r, pa.string()),
            "loyalty_card_id": _mask(_take(card_id, receipt_person), has_card[receipt_person]),
            "email": _mask(_take(email, receipt_person), ~has_card[receipt_person]),
            "phone": pc.if_else(pa.array(store_phone), _take(store_numbers, rng.integers(0, stores, r)), pa.nulls(r, pa.string())),
            "payment_fingerprint": _fmt("PF", fingerprint_owner, 8),
            "transacted_at": _timestamps(rng, r),
            "type": pa.array(["sale"] * r, pa.string()),
            "currency": pa.array(["GBP"] * r, pa.string()),
            "total_amount": pa.array(["30.00"] * r, pa.string()),
        },
        receipt_person,
        pa.array(np.where(store_phone, "store_phone_on_receipt", np.where(fingerprint_owner != receipt_person, "shared_family_payment_card", "receipt")).astype(object), pa.string()),
    )
    writer.write(
        "pos_lines",
        {
            "receipt_id": _fmt("R", np.arange(r), 10),
            "line_number": pa.array(["1"] * r, pa.string()),
            "product_id": pa.array(["P001"] * r, pa.string()),
            "quantity": pa.array(["1"] * r, pa.string()),
            "unit_price": pa.array(["30.00"] * r, pa.string()),
        },
    )

    # --- support tickets ---------------------------------------------------------------
    ticket_people = ids[rng.random(n) < 0.1]
    t = len(ticket_people)
    writer.write(
        "support_tickets",
        {
            "ticket_id": _fmt("K", np.arange(t), 9),
            "customer_id": _mask(_take(crm_id, ticket_people), has_crm[ticket_people]),
            "email": _take(email, ticket_people),
            "phone": _mask(_take(phone_e164, ticket_people), rng.random(t) < 0.4),
            "opened_at": _timestamps(rng, t),
            "status": pa.array(["solved"] * t, pa.string()),
            "topic": pa.array(["delivery"] * t, pa.string()),
        },
        ticket_people,
    )

    writer.write("products", {"product_id": pa.array(["P001"]), "name": pa.array(["T-shirt"]), "category": pa.array(["tops"]), "brand": pa.array(["House"]), "price": pa.array(["25.00"])})
    writer.write("stores", {"store_id": pa.array(["S01"]), "name": pa.array(["Oxford Street"]), "city": pa.array(["London"]), "country": pa.array(["GB"])})
    writer.finish()
    return {table.column("source_table")[0].as_py(): table.num_rows for table in writer.truth}


def register(commands) -> None:
    """Add `cdp generate` to the CLI's subcommands."""
    command = commands.add_parser("generate", help="write synthetic raw files plus truth.csv (the true person of every row)")
    command.add_argument("--persons", type=int, required=True, help="number of people")
    command.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    command.add_argument("--out", type=Path, required=True, help="folder to write <table>.csv and truth.csv into")
    command.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format of the raw tables")
    command.set_defaults(handler=_generate_command)


def _generate_command(args) -> int:
    rows = generate(args.persons, args.seed, args.out, args.format)
    print(f"wrote {sum(rows.values()):,} rows for {args.persons:,} persons to {args.out} (truth in truth.csv)")
    return 0
