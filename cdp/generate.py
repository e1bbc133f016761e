"""`cdp generate`: synthetic raw source files with the true person of every row.

The files follow the raw source contract (`cdp.contract.raw_contract()`), so `cdp build
--raw-dir DIR` builds them like a retailer's own. `truth.csv` (not a contract table)
names, for every row that belongs to a person, that person and the case the row
illustrates, so that tests can measure how well person_id recovers the truth.

What makes it hard, on purpose: people fragmented across CRM, loyalty, web, app, orders
and tills; guest checkouts; e-mails in other letter cases; phones in national format;
duplicate CRM records with typos and no shared identifier; family members sharing a
tablet or a payment card; staff typing the store's own phone; placeholder e-mails.

What people do, so that the CLV fit, the audiences and the journeys have something to
work on: purchase histories drawn from BG/NBD and Gamma-Gamma (`simulate_purchase_histories`),
carts and product views of the last weeks that end online, in a store or not at all,
store visits, loyalty points, marketing consents per channel (some revoked) and support
tickets, every timestamp before the as-of moment (docs/identity.md, "Generated data").

Everything is drawn with numpy and assembled column-wise with pyarrow, so a million
persons take well under a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pa_parquet

from cdp.clock import parse_as_of
from cdp.contract import raw_contract

FIRST_NAMES = [
    "olivia",
    "amelia",
    "isla",
    "ava",
    "mia",
    "ivy",
    "lily",
    "isabella",
    "sophia",
    "grace",
    "freya",
    "emily",
    "ella",
    "poppy",
    "evie",
    "charlotte",
    "noah",
    "oliver",
    "george",
    "arthur",
    "leo",
    "harry",
    "oscar",
    "archie",
    "henry",
    "theo",
    "jack",
    "charlie",
    "freddie",
    "alfie",
    "thomas",
    "james",
    "maria",
    "priya",
    "anita",
    "raj",
    "ahmed",
    "fatima",
    "omar",
    "aisha",
    "chen",
    "wei",
    "lucas",
    "ethan",
    "sophie",
    "chloe",
    "zoe",
    "hannah",
    "liam",
    "emma",
]
LAST_NAMES = [
    "smith",
    "jones",
    "taylor",
    "brown",
    "williams",
    "wilson",
    "johnson",
    "davies",
    "patel",
    "robinson",
    "wright",
    "thompson",
    "evans",
    "walker",
    "white",
    "roberts",
    "green",
    "hall",
    "thomas",
    "clarke",
    "jackson",
    "wood",
    "harris",
    "edwards",
    "turner",
    "martin",
    "cooper",
    "hill",
    "ward",
    "hughes",
    "moore",
    "clark",
    "king",
    "harrison",
    "lewis",
    "baker",
    "lee",
    "allen",
    "morris",
    "khan",
    "scott",
    "watson",
    "davis",
    "parker",
    "price",
    "bennett",
    "young",
    "griffiths",
    "mitchell",
    "kelly",
    "cook",
    "carter",
    "richardson",
    "bailey",
    "collins",
    "bell",
    "shaw",
    "murphy",
    "miller",
]
STREETS = [
    "high street",
    "station road",
    "church lane",
    "park avenue",
    "mill road",
    "kings road",
    "queen street",
    "victoria road",
    "the green",
    "manor way",
]
STREET_SHORT = {"street": "st", "road": "rd", "lane": "ln", "avenue": "ave"}
CITIES = ["London", "Manchester", "Leeds", "Leicester", "Bristol", "Birmingham"]
AREAS = ["N", "E", "SW", "W", "M", "LS", "LE", "BS", "B"]
# Corruption of duplicate CRM records, after the way record-linkage benchmarks are made
# (FEBRL's and GeCo's generators): OCR confusions and phonetic spellings, as (written, misread).
OCR_ERRORS = [
    ("m", "rn"),
    ("rn", "m"),
    ("o", "0"),
    ("l", "1"),
    ("i", "l"),
    ("e", "c"),
    ("cl", "d"),
    ("d", "cl"),
    ("h", "b"),
    ("u", "v"),
    ("s", "5"),
    ("g", "q"),
    ("n", "ri"),
]
PHONETIC_ERRORS = [
    ("ph", "f"),
    ("f", "ph"),
    ("ck", "k"),
    ("c", "k"),
    ("k", "c"),
    ("ee", "ea"),
    ("ie", "y"),
    ("y", "ie"),
    ("ou", "ow"),
    ("s", "z"),
    ("z", "s"),
    ("th", "t"),
    ("w", "v"),
    ("ei", "ie"),
    ("ai", "ay"),
    ("er", "ar"),
    ("a", "e"),
]
NICKNAMES = {
    "olivia": "liv",
    "amelia": "millie",
    "isabella": "bella",
    "sophia": "sophie",
    "charlotte": "lottie",
    "emily": "em",
    "evie": "eve",
    "thomas": "tom",
    "james": "jim",
    "oliver": "ollie",
    "arthur": "art",
    "henry": "harry",
    "theo": "theodore",
    "charlie": "charles",
    "freddie": "fred",
    "alfie": "alf",
    "archie": "archibald",
    "maria": "mary",
    "lucas": "luke",
    "liam": "william",
    "emma": "em",
    "zoe": "zoey",
    "hannah": "anna",
    "harry": "henry",
    "jack": "john",
    "george": "georgie",
    "priya": "pri",
    "grace": "gracie",
    "poppy": "pop",
    "isla": "isa",
}
# Duplicates per duplicated person (1 to 5, fewer more often) and fields corrupted per duplicate record.
DUPLICATES_PER_PERSON = ([1, 2, 3, 4, 5], [0.55, 0.25, 0.11, 0.06, 0.03])
FIELDS_CORRUPTED = ([1, 2, 3, 4], [0.35, 0.35, 0.2, 0.1])
JUNK_EMAILS = ["test@test.com", "noemail@example.com", "TEST@TEST.COM", "none@none.com"]
# The moment the files are written as of, unless `--as-of` says otherwise: fixed, so that
# the same seed gives the same files on any day (build them with the same --as-of).
DEFAULT_AS_OF = datetime(2026, 11, 20, 9, 0)
# The catalogue: (product, name, category, price). Prices spread from a few pounds to a
# coat, so that a purchase's product follows its spend (`_products_for`).
PRODUCTS = [
    ("P001", "Trainer socks", "accessories", "4.00"),
    ("P002", "Hair clips", "accessories", "6.00"),
    ("P003", "Cotton T-shirt", "tops", "9.00"),
    ("P004", "Canvas tote", "accessories", "12.00"),
    ("P005", "Striped T-shirt", "tops", "15.00"),
    ("P006", "Beanie", "accessories", "18.00"),
    ("P007", "Oxford shirt", "tops", "22.00"),
    ("P008", "Leggings", "bottoms", "26.00"),
    ("P009", "Chinos", "bottoms", "32.00"),
    ("P010", "Denim skirt", "bottoms", "38.00"),
    ("P011", "Merino jumper", "knitwear", "45.00"),
    ("P012", "Slim jeans", "bottoms", "52.00"),
    ("P013", "Hoodie", "tops", "60.00"),
    ("P014", "Running shoes", "shoes", "70.00"),
    ("P015", "Leather belt", "accessories", "80.00"),
    ("P016", "Cardigan", "knitwear", "95.00"),
    ("P017", "Chelsea boots", "shoes", "110.00"),
    ("P018", "Rain jacket", "outerwear", "130.00"),
    ("P019", "Wool coat", "outerwear", "160.00"),
    ("P020", "Down parka", "outerwear", "200.00"),
]
STORES = [
    ("S01", "Oxford Street", "London", "51.5154", "-0.1420"),
    ("S02", "Market Street", "Manchester", "53.4823", "-2.2400"),
    ("S03", "Briggate", "Leeds", "53.7972", "-1.5418"),
    ("S04", "Gallowtree Gate", "Leicester", "52.6358", "-1.1317"),
    ("S05", "Broadmead", "Bristol", "51.4584", "-2.5886"),
    ("S06", "Bull Ring", "Birmingham", "52.4778", "-1.8940"),
]
# Purchase histories follow the models the CLV fit assumes, with the parameters published
# for the CDNOW panel (weeks): BG/NBD purchase rates lambda ~ Gamma(r, alpha), drop-out
# after each repeat purchase with p ~ Beta(a, b) (Fader, Hardie and Lee 2005), and spend
# per purchase ~ Gamma(p, nu) with nu ~ Gamma(q, gamma) ("RFM and CLV", 2005).
BGNBD_R, BGNBD_ALPHA, BGNBD_A, BGNBD_B = 0.243, 4.414, 0.793, 2.426
SPEND_P, SPEND_Q, SPEND_GAMMA = 6.25, 3.74, 15.44
# Share of persons who ever buy, and how far back the first purchases (and the raw
# files' other timestamps) go from the as-of moment.
BUYER_SHARE = 0.8
# Share of persons who became known in the last week (the welcome journey's audience).
NEW_SHARE, NEW_WINDOW = 0.01, np.timedelta64(7, "D")
HISTORY = np.timedelta64(1400, "D")
# Recent visits: sessions per browser and per app user in the last SESSION_WINDOW, and
# how a session ends: only product views, a cart left, a cart bought online, or a cart
# bought in a store within two days (the "bought in the store" case).
SESSION_WINDOW = np.timedelta64(30, "D")
SESSIONS_PER_OWNER = 0.8
SESSION_OUTCOMES = (["browse", "cart_left", "bought_online", "bought_in_store"], [0.45, 0.3, 0.15, 0.1])
# Consent per channel: share of the persons with the channel's identifier who grant
# marketing consent, and share of those who revoke it later.
MARKETING_CONSENT = {"email": 0.7, "sms": 0.35, "whatsapp": 0.15, "app_push": 0.65, "web_push": 0.1}
REVOKE_SHARE = 0.12
# Loyalty: points per pound spent with the card, an occasional bonus, and a redemption
# of REDEEM_POINTS by some members once they have earned that many.
POINTS_PER_POUND = 5
BONUS_SHARE, BONUS_POINTS = 0.1, 250
REDEEM_SHARE, REDEEM_POINTS = 0.4, 500
POINTS_VALID = np.timedelta64(365, "D")
TICKET_STATUSES = (["solved", "closed", "open", "pending"], [0.7, 0.2, 0.07, 0.03])

CONSENT_SOURCES = {
    "email": "signup_form",
    "sms": "checkout",
    "whatsapp": "whatsapp_opt_in",
    "app_push": "app_prompt",
    "web_push": "browser_prompt",
}
PRODUCT_IDS = pa.array([product for product, *_ in PRODUCTS], pa.string())
PRICES = np.array([float(price) for *_, price in PRODUCTS])


def _pick(rng: np.random.Generator, options, size: int) -> pa.Array:
    return pa.array(np.asarray(options, dtype=object)[rng.integers(0, len(options), size)], pa.string())


def _fmt(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    return pa.array(np.char.add(prefix, np.char.zfill(numbers.astype(str), width)).astype(object), pa.string())


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _moments(rng: np.random.Generator, size: int, start: np.datetime64, end: np.datetime64) -> np.ndarray:
    seconds = rng.integers(0, int((end - start) / np.timedelta64(1, "s")), size)
    return start + seconds.astype("timedelta64[s]")


def _since(rng: np.random.Generator, since: np.ndarray, end: np.datetime64) -> np.ndarray:
    """A moment uniform between each of `since` and `end`: what a person does after becoming known."""
    seconds = (end - since) / np.timedelta64(1, "s")
    return since + (rng.random(len(since)) * seconds).astype("timedelta64[s]")


def _mask(array: pa.Array, keep: np.ndarray) -> pa.Array:
    """Nulls where `keep` is false (an absent value in a raw file)."""
    return pc.if_else(pa.array(keep), array, pa.nulls(len(array), pa.string()))


def _take(array: pa.Array, index: np.ndarray) -> pa.Array:
    return array.take(pa.array(index))


@dataclass(frozen=True)
class Purchases:
    """One row per purchase: whose, when (datetime64[s]) and how much (pounds)."""

    person: np.ndarray
    moment: np.ndarray
    amount: np.ndarray


def simulate_purchase_histories(rng: np.random.Generator, since: np.ndarray, end: np.datetime64) -> Purchases:
    """Purchase histories of the persons known since `since` (one moment each), drawn
    from BG/NBD and Gamma-Gamma (the constants above).

    A buyer's first purchase is uniform between `since` and a day before `end`; until
    `end` the buyer purchases as a Poisson process of rate lambda and drops out after
    the D-th repeat purchase, D ~ Geometric(p). The repeat purchases are the first
    min(N, D) of the N ~ Poisson(lambda T) points of the process in the T weeks after
    the first purchase: the k-th of N sorted uniforms is the k-th partial sum of N + 1
    exponentials over their total, so only the purchases kept are drawn (a million
    persons stay cheap).
    """
    week, day = 7 * 86400, 86400
    room = (end - since) / np.timedelta64(1, "s") - day
    buyers = np.flatnonzero((rng.random(len(since)) < BUYER_SHARE) & (room > 0))
    # seconds from the first purchase to `end`
    first = day + rng.random(len(buyers)) * room[buyers]
    weeks = first / week
    rate = rng.gamma(BGNBD_R, 1 / BGNBD_ALPHA, len(buyers))
    dropout = rng.beta(BGNBD_A, BGNBD_B, len(buyers))
    in_window = rng.poisson(rate * weeks)
    repeats = np.minimum(in_window, rng.geometric(np.maximum(dropout, 1e-12)))
    owner = np.repeat(np.arange(len(buyers)), repeats)
    gaps = rng.exponential(size=len(owner))
    running = np.cumsum(gaps)
    offsets = np.concatenate([[0.0], running])[np.repeat(np.cumsum(repeats) - repeats, repeats)]
    partial = running - offsets
    total = np.bincount(owner, gaps, minlength=len(buyers)) + rng.gamma(in_window - repeats + 1.0)
    repeat_before_end = first[owner] * (1 - partial / total[owner])
    person = np.concatenate([buyers, buyers[owner]])
    before_end = np.concatenate([first, np.maximum(repeat_before_end, 60)])
    nu = rng.gamma(SPEND_Q, 1 / SPEND_GAMMA, len(since))
    amount = np.maximum(rng.gamma(SPEND_P, 1 / nu[person]), 1.0)
    order = np.lexsort((-before_end, person))
    moment = end - before_end[order].astype("timedelta64[s]")
    return Purchases(person[order], moment, amount[order])


def _products_for(amount: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The product (catalogue index) and quantity whose total comes nearest each spend."""
    prices = np.array([float(price) for *_, price in PRODUCTS])
    above = np.clip(np.searchsorted(prices, amount), 1, len(prices) - 1)
    nearer_below = amount - prices[above - 1] < prices[above] - amount
    product = np.where(nearer_below, above - 1, above)
    quantity = np.clip(np.round(amount / prices[product]), 1, 5).astype(int)
    return product, quantity


def _iso(moments: np.ndarray) -> pa.Array:
    text = np.datetime_as_string(moments.astype("datetime64[s]"), unit="s")
    return pa.array(np.char.add(text, "Z").astype(object), pa.string())


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """`_fmt`, with nulls where the number is negative (no such object)."""
    return _mask(_fmt(prefix, np.maximum(numbers, 0), width), numbers >= 0)


def _product_ids(index: np.ndarray) -> pa.Array:
    """Product ids of catalogue indexes, null where the index is -1 (no product)."""
    return _mask(_take(PRODUCT_IDS, np.maximum(index, 0)), index >= 0)


def _product_prices(index: np.ndarray) -> pa.Array:
    return _mask(_money(PRICES[np.maximum(index, 0)]), index >= 0)


def _money(values: np.ndarray) -> pa.Array:
    return pa.array(np.char.mod("%.2f", values).astype(object), pa.string())


def _strings(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values).astype(str).astype(object), pa.string())


@dataclass(frozen=True)
class Sessions:
    """Recent visits of browsers or app users: the owner (an index), when, the products
    viewed (up to three, -1 for none) and how the visit ended (SESSION_OUTCOMES)."""

    owner: np.ndarray
    moment: np.ndarray
    viewed: np.ndarray
    outcome: np.ndarray


def _sessions(rng: np.random.Generator, owners: int, end: np.datetime64) -> Sessions:
    counts = rng.poisson(SESSIONS_PER_OWNER, owners)
    owner = np.repeat(np.arange(owners), counts)
    s = len(owner)
    window = int(SESSION_WINDOW / np.timedelta64(1, "s"))
    moment = end - np.timedelta64(3600, "s") - rng.integers(0, window, s).astype("timedelta64[s]")
    views = rng.integers(1, 4, s)
    viewed = rng.integers(0, len(PRODUCTS), (s, 3))
    viewed[np.arange(3)[None, :] >= views[:, None]] = -1
    outcome = rng.choice(SESSION_OUTCOMES[0], size=s, p=SESSION_OUTCOMES[1])
    return Sessions(owner, moment, viewed, outcome)


@dataclass(frozen=True)
class SessionEvents:
    """The events of `Sessions`, one row each: the session (an index), type, product and
    order (-1 for none) and when."""

    session: np.ndarray
    event_type: np.ndarray
    product: np.ndarray
    order: np.ndarray
    moment: np.ndarray


def _session_events(
    rng: np.random.Generator, sessions: Sessions, order_of_session: np.ndarray, completed: str, checkout: bool
) -> SessionEvents:
    """Views two minutes apart, then for a cart the first viewed product added, a checkout
    started (web: always before an order, on half the carts left) and the order completed."""
    parts = []
    for slot in range(sessions.viewed.shape[1]):
        rows = np.flatnonzero(sessions.viewed[:, slot] >= 0)
        parts.append((rows, "product_view", sessions.viewed[rows, slot], -1, 120 * slot))
    rows = np.flatnonzero(sessions.outcome != "browse")
    parts.append((rows, "add_to_cart", sessions.viewed[rows, 0], -1, 360))
    if checkout:
        started = (sessions.outcome == "bought_online") | (
            (sessions.outcome == "cart_left") & (rng.random(len(sessions.outcome)) < 0.5)
        )
        rows = np.flatnonzero(started)
        parts.append((rows, "checkout_started", np.full(len(rows), -1), -1, 420))
    rows = np.flatnonzero(sessions.outcome == "bought_online")
    parts.append((rows, completed, sessions.viewed[rows, 0], order_of_session[rows], 540))
    return SessionEvents(
        session=np.concatenate([rows for rows, *_ in parts]),
        event_type=np.concatenate([np.full(len(rows), kind, dtype=object) for rows, kind, *_ in parts]),
        product=np.concatenate([product for _, _, product, *_ in parts]).astype(int),
        order=np.concatenate([np.broadcast_to(order, len(rows)) for rows, _, _, order, _ in parts]).astype(int),
        moment=np.concatenate([sessions.moment[rows] + np.timedelta64(offset, "s") for rows, *_, offset in parts]),
    )


class _Writer:
    def __init__(self, out: Path, file_format: str):
        self.out, self.file_format = out, file_format
        self.contract = raw_contract()
        self.truth: list[pa.Table] = []
        self.rows: dict[str, int] = {}

    def write(
        self, table: str, columns: dict[str, pa.Array], person: np.ndarray | None = None, case: pa.Array | None = None
    ) -> None:
        spec = self.contract[table]
        size = len(next(iter(columns.values())))
        data = pa.table({name: columns.get(name, pa.nulls(size, pa.string())) for name in spec.column_names})
        self.rows[table] = size
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


WIDTH = 40
# (start, end) of "yyyy-", "mm" and "dd" in an ISO date
_DATE_PARTS = ((0, 5), (5, 7), (8, 10))
LETTERS = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz", dtype=np.uint8).astype(np.uint32)
DIGITS = np.frombuffer(b"0123456789", dtype=np.uint8).astype(np.uint32)


def _codes(values: np.ndarray) -> np.ndarray:
    """Text as a (rows, WIDTH) matrix of code points, zero-padded, so edits are array operations."""
    return np.ascontiguousarray(values.astype(f"<U{WIDTH}")).view(np.uint32).reshape(len(values), WIDTH)


def _text(codes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(codes).view(f"<U{WIDTH}").reshape(-1).astype(object)


def _edit(rng: np.random.Generator, values: np.ndarray, rows: np.ndarray, digits_only: bool = False) -> None:
    """One keyboard error in each of `rows` (in place): insert, delete, substitute or transpose a character.

    With `digits_only`, only a digit is substituted or two adjacent digits exchanged (a date
    or a postcode typed wrong, keeping its shape).
    """
    if not len(rows):
        return
    codes = _codes(values[rows])
    lengths = (codes > 0).sum(axis=1)
    column = np.arange(WIDTH)
    if digits_only:
        is_digit = (codes >= 48) & (codes <= 57)
        # a random digit position per row (argmax of random keys over digit positions)
        position = np.argmax(np.where(is_digit, rng.random(codes.shape), -1), axis=1)
        kind = rng.choice(["substitute", "transpose"], size=len(rows), p=[0.7, 0.3])
        neighbour_is_digit = is_digit[np.arange(len(rows)), np.minimum(position + 1, WIDTH - 1)]
        kind = np.where((kind == "transpose") & ~neighbour_is_digit, "substitute", kind)
        replacement = DIGITS[rng.integers(0, 10, len(rows))]
    else:
        position = np.floor(rng.random(len(rows)) * np.maximum(lengths, 1)).astype(int)
        kind = rng.choice(["insert", "delete", "substitute", "transpose"], size=len(rows))
        kind = np.where((kind == "transpose") & (position + 1 >= lengths), "substitute", kind)
        kind = np.where((kind == "delete") & (lengths <= 2), "substitute", kind)
        replacement = LETTERS[rng.integers(0, 26, len(rows))]
    source = np.broadcast_to(column, codes.shape).copy()
    at = position[:, None]
    source = np.where((kind == "delete")[:, None] & (column >= at), column + 1, source)
    source = np.where((kind == "insert")[:, None] & (column > at), column - 1, source)
    swap = (kind == "transpose")[:, None]
    source = np.where(swap & (column == at), column + 1, source)
    source = np.where(swap & (column == at + 1), column - 1, source)
    edited = np.take_along_axis(np.pad(codes, ((0, 0), (0, 1))), np.minimum(source, WIDTH), axis=1)
    put = (kind == "insert") | (kind == "substitute")
    edited[np.arange(len(rows))[put], position[put]] = replacement[put]
    values[rows] = _text(edited)


def _respell(rng: np.random.Generator, values: np.ndarray, rows: np.ndarray, rules: list[tuple[str, str]]) -> None:
    """An OCR or phonetic error in each of `rows` (in place); a row no rule fits gets a keyboard error."""
    pending = np.asarray(rows)
    for written, misread in (rules[i] for i in rng.permutation(len(rules))):
        if not len(pending):
            return
        found = np.char.find(values[pending].astype(str), written) >= 0
        chosen = pending[found & (rng.random(len(pending)) < 0.5)]
        if len(chosen):
            values[chosen] = np.asarray(
                pc.replace_substring(pa.array(values[chosen], pa.string()), written, misread, max_replacements=1),
                dtype=object,
            )
        pending = np.setdiff1d(pending, chosen)
    _edit(rng, values, pending)


def corrupt_crm_records(rng: np.random.Generator, clean: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """Duplicate CRM records made from clean values, corrupted as record-linkage benchmarks are.

    Each record gets one to four corrupted fields among first name, last name, birth date,
    street, city and postcode (FIELDS_CORRUPTED); a field gets one error, sometimes two.
    Per field: keyboard errors (insert, delete, substitute, transpose), OCR confusions,
    phonetic spellings, nicknames (first names), missing values and first and last name
    swapped; dates get a wrong or exchanged digit or day and month swapped; postcodes a
    wrong or exchanged character; streets an abbreviated type or a wrong house number.
    Postcodes lose their space half the time (formatting, not an error). Vectorised:
    every error type is one array operation over the records it falls on.
    """
    size = len(clean["first_name"])
    fields = ["first_name", "last_name", "birth_date", "street", "city", "postal_code"]
    values = {name: np.asarray(clean[name].to_pylist(), dtype=object) for name in clean}
    values["street_name"] = np.asarray(pc.utf8_lower(clean["street_name"]).to_pylist(), dtype=object)
    missing = {field: np.zeros(size, bool) for field in fields}
    corrupted = rng.choice(FIELDS_CORRUPTED[0], size=size, p=FIELDS_CORRUPTED[1])
    order = np.argsort(rng.random((size, len(fields))), axis=1)
    for slot in range(max(FIELDS_CORRUPTED[0])):
        for times in (1, 2) if slot == 0 else (1,):
            chosen = slot < corrupted
            if times == 2:
                chosen &= rng.random(size) < 0.15
            for index, field in enumerate(fields):
                rows = np.flatnonzero(chosen & (order[:, slot] == index))
                if not len(rows):
                    continue
                error = rng.random(len(rows))
                missing[field][rows[error < 0.12]] = True
                rows = rows[error >= 0.12]
                error = error[error >= 0.12]
                if field in ("first_name", "last_name"):
                    _edit(rng, values[field], rows[error < 0.55])
                    _respell(rng, values[field], rows[(error >= 0.55) & (error < 0.7)], OCR_ERRORS)
                    _respell(rng, values[field], rows[(error >= 0.7) & (error < 0.85)], PHONETIC_ERRORS)
                    other = rows[error >= 0.85]
                    if field == "first_name":
                        nickname = np.asarray([NICKNAMES.get(name) for name in values[field][other]], dtype=object)
                        has = nickname != None  # noqa: E711 (element-wise)
                        values[field][other[has]] = nickname[has]
                        _edit(rng, values[field], other[~has])
                    else:  # first and last name typed into each other's field
                        values["first_name"][other], values["last_name"][other] = (
                            values["last_name"][other],
                            values["first_name"][other].copy(),
                        )
                elif field == "birth_date":
                    _edit(rng, values[field], rows[error < 0.75], digits_only=True)
                    swap = rows[error >= 0.75]
                    text = pa.array(values[field][swap], pa.string())
                    year, month, day = (pc.utf8_slice_codeunits(text, start, end) for start, end in _DATE_PARTS)
                    values[field][swap] = np.asarray(_join(year, day, "-", month).to_pylist(), dtype=object)
                elif field == "street":
                    _edit(rng, values["house"], rows[error < 0.3], digits_only=True)
                    _edit(rng, values["street_name"], rows[(error >= 0.3) & (error < 0.6)])
                    _respell(rng, values["street_name"], rows[(error >= 0.6) & (error < 0.75)], PHONETIC_ERRORS)
                    short = rows[error >= 0.75]
                    abbreviated = pa.array(values["street_name"][short], pa.string())
                    for word, abbreviation in STREET_SHORT.items():
                        abbreviated = pc.replace_substring(abbreviated, word, abbreviation)
                    values["street_name"][short] = np.asarray(abbreviated.to_pylist(), dtype=object)
                elif field == "city":
                    _edit(rng, values[field], rows[error < 0.6])
                    _respell(rng, values[field], rows[error >= 0.6], OCR_ERRORS + PHONETIC_ERRORS)
                else:
                    _edit(rng, values[field], rows[error < 0.6], digits_only=True)
                    _edit(rng, values[field], rows[error >= 0.6])
    postcodes = pa.array(values["postal_code"], pa.string())
    postcodes = pc.if_else(pa.array(rng.random(size) < 0.5), pc.replace_substring(postcodes, " ", ""), postcodes)
    street = _join(
        pa.array(values["house"], pa.string()), " ", pc.utf8_title(pa.array(values["street_name"], pa.string()))
    )
    out = {
        "first_name": pc.utf8_capitalize(pa.array(values["first_name"], pa.string())),
        "last_name": pc.utf8_capitalize(pa.array(values["last_name"], pa.string())),
        "birth_date": pa.array(values["birth_date"], pa.string()),
        "street": street,
        "city": pc.utf8_capitalize(pa.array(values["city"], pa.string())),
        "postal_code": pc.utf8_upper(postcodes),
    }
    return {name: _mask(array, ~missing[name]) for name, array in out.items()}


def generate(
    persons: int, seed: int, out: Path, file_format: str = "csv", as_of: datetime = DEFAULT_AS_OF
) -> dict[str, int]:
    """Write the raw files and truth.csv for `persons` people, every timestamp before
    `as_of` (naive UTC); return rows per table."""
    if persons < 2:
        raise ValueError("--persons must be at least 2")
    as_of = np.datetime64(as_of.replace(microsecond=0), "s")
    start = as_of - HISTORY
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
    # 07400 000000 .. 07599 999999 and 07710 000000 .. 07899 999999: UK mobile ranges that
    # libphonenumber holds valid (076 is pagers; parts of 0770 and 0791 are unallocated)
    mobile_digits = rng.integers(400_000_000, 790_000_000, n)
    mobile_digits += np.where(mobile_digits >= 600_000_000, 110_000_000, 0)
    phone_e164 = _fmt("+447", mobile_digits, 9)
    phone_national = _join(
        "07",
        pc.utf8_slice_codeunits(_fmt("", mobile_digits, 9), 0, 3),
        " ",
        pc.utf8_slice_codeunits(_fmt("", mobile_digits, 9), 3, 9),
    )
    birth = np.datetime_as_string(
        np.datetime64("1950-01-01") + rng.integers(0, 20_000, n).astype("timedelta64[D]"), unit="D"
    )
    birth_date = pa.array(birth.astype(object), pa.string())
    house = pa.array(rng.integers(1, 200, n).astype(str).astype(object), pa.string())
    street_name = _pick(rng, STREETS, n)
    area = _pick(rng, AREAS, n)
    outward = _join(area, pa.array(rng.integers(1, 30, n).astype(str).astype(object), pa.string()))
    inward = _join(
        pa.array(rng.integers(1, 10, n).astype(str).astype(object), pa.string()),
        _pick(rng, list("ABDEFGHJLNPQRSTUWXYZ"), n),
        _pick(rng, list("ABDEFGHJLNPQRSTUWXYZ"), n),
    )
    postal_code = _join(outward, " ", inward)
    city = _pick(rng, CITIES, n)
    # Half the family links: person i+1 shares something with person i.
    in_family = (rng.random(n) < 0.04) & (ids > 0)

    # --- CRM ---------------------------------------------------------------------------
    has_crm = rng.random(n) < 0.85
    crm_id = _fmt("C", ids, 8)
    crm_people = ids[has_crm]
    shown_email = pc.if_else(pa.array(rng.random(n) < 0.2), pc.utf8_upper(email), email)
    # duplicate CRM records (one to five per duplicated person), corrupted field by field,
    # sharing no e-mail or phone with the person's other records
    has_duplicate = has_crm & (rng.random(n) < 0.03)
    dup_counts = rng.choice(DUPLICATES_PER_PERSON[0], size=n, p=DUPLICATES_PER_PERSON[1]) * has_duplicate
    dup_people = np.repeat(ids, dup_counts)
    dup_number = np.arange(len(dup_people)) - np.repeat(np.cumsum(dup_counts) - dup_counts, dup_counts)
    dup_id = _fmt("D", ids, 8)  # the first duplicate's id; the loyalty card made with it carries it
    dup_record_id = pc.if_else(
        pa.array(dup_number == 0),
        _take(dup_id, dup_people),
        _join(_take(dup_id, dup_people), "-", pa.array((dup_number + 1).astype(str).astype(object), pa.string())),
    )
    duplicates = corrupt_crm_records(
        rng,
        {
            "first_name": _take(first, dup_people),
            "last_name": _take(last, dup_people),
            "birth_date": _take(birth_date, dup_people),
            "house": _take(house, dup_people),
            "street_name": _take(street_name, dup_people),
            "city": pc.utf8_lower(_take(city, dup_people)),
            "postal_code": _take(postal_code, dup_people),
        },
    )
    d = len(dup_people)
    # another address of the same person: unique (a number drawn without replacement), and
    # unrelated to the person's other addresses, so only names, dates and addresses tell
    other_email = _join(
        pc.utf8_slice_codeunits(_take(first, dup_people), 0, 1),
        _take(last, dup_people),
        pa.array((rng.permutation(d) + 100).astype(str).astype(object), pa.string()),
        "@example.net",
    )
    created_moment = np.where(
        rng.random(n) < NEW_SHARE, _moments(rng, n, as_of - NEW_WINDOW, as_of), _moments(rng, n, start, as_of)
    )
    created = _iso(created_moment)
    crm_phone_shown = rng.random(n) < 0.7
    crm_rows = {
        "customer_id": pa.concat_arrays([_take(crm_id, crm_people), dup_record_id]),
        "email": pa.concat_arrays([_take(shown_email, crm_people), _mask(other_email, rng.random(d) < 0.5)]),
        "phone": pa.concat_arrays(
            [_take(_mask(phone_national, crm_phone_shown), crm_people), pa.nulls(d, pa.string())]
        ),
        "first_name": pa.concat_arrays([_take(first_cap, crm_people), duplicates["first_name"]]),
        "last_name": pa.concat_arrays([_take(last_cap, crm_people), duplicates["last_name"]]),
        "birth_date": pa.concat_arrays([_take(birth_date, crm_people), duplicates["birth_date"]]),
        "street": pa.concat_arrays(
            [_take(_join(house, " ", pc.utf8_title(street_name)), crm_people), duplicates["street"]]
        ),
        "city": pa.concat_arrays([_take(city, crm_people), duplicates["city"]]),
        "postal_code": pa.concat_arrays([_take(postal_code, crm_people), duplicates["postal_code"]]),
        "country": pa.array(["GB"] * (len(crm_people) + d), pa.string()),
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
    card_email = _mask(
        pc.if_else(pa.array(rng.random(n) < 0.5), pc.utf8_upper(email), email),
        ~has_duplicate & ((rng.random(n) < 0.6) | ~card_has_customer),
    )
    card_phone = _mask(
        pc.if_else(pa.array(rng.random(n) < 0.5), phone_national, phone_e164), ~has_duplicate & (rng.random(n) < 0.5)
    )
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
        pa.array(
            np.where(has_duplicate[card_people], "crm_duplicate_with_typo", "loyalty_member").astype(object),
            pa.string(),
        ),
    )

    # --- web: up to two browsers per person; a login or a sign-up ties each to its person
    browsers = rng.integers(0, 3, n)
    browser_person = np.repeat(ids, browsers)
    first_browser = np.cumsum(browsers) - browsers
    browser_number = np.arange(len(browser_person)) - np.repeat(first_browser, browsers)
    anonymous_id = _join(_fmt("A", browser_person, 8), "-", _strings(browser_number))
    b = len(browser_person)
    # every browser identifies once (a login, else a newsletter sign-up); browsers that
    # never do are strangers to everyone, and are not what this data is for
    logged_in = has_crm[browser_person] & (rng.random(b) < 0.6)
    signed_up = ~logged_in

    # --- app: a device per app user; family members log in on each other's tablet ------
    has_app = has_crm & (rng.random(n) < 0.35)
    app_people = ids[has_app]
    device = _fmt("DEV", ids, 8)
    token = _fmt("PT", ids, 8)
    platform = _pick(rng, ["ios", "android"], n)
    family_login = in_family & has_app & has_crm & np.roll(has_app & has_crm, 1)
    borrowers = ids[family_login]  # log in on the previous person's device
    a = len(app_people)

    # --- purchases: histories over the years, and carts and views of the last weeks ----
    history = simulate_purchase_histories(rng, created_moment, as_of)
    online_share = np.where(browsers > 0, rng.beta(1.5, 1.5, n), 0.0)
    online = rng.random(len(history.person)) < online_share[history.person]
    history_product, history_quantity = _products_for(history.amount)
    web_sessions = _sessions(rng, b, as_of)
    app_sessions = _sessions(rng, a, as_of)
    web_bought = np.flatnonzero(web_sessions.outcome == "bought_online")
    app_bought = np.flatnonzero(app_sessions.outcome == "bought_online")
    history_orders = np.flatnonzero(online)
    h = len(history_orders)
    web_order = np.full(len(web_sessions.owner), -1)
    web_order[web_bought] = h + np.arange(len(web_bought))
    app_order = np.full(len(app_sessions.owner), -1)
    app_order[app_bought] = h + len(web_bought) + np.arange(len(app_bought))
    web_events = _session_events(rng, web_sessions, web_order, "order_completed", checkout=True)
    app_events = _session_events(rng, app_sessions, app_order, "purchase", checkout=False)
    after_visit = np.timedelta64(540, "s")
    history_person = history.person[history_orders]
    order_person = np.concatenate(
        [history_person, browser_person[web_sessions.owner[web_bought]], app_people[app_sessions.owner[app_bought]]]
    )
    order_browser = np.concatenate(
        [
            first_browser[history_person] + rng.integers(0, np.maximum(browsers[history_person], 1)),
            web_sessions.owner[web_bought],
            np.full(len(app_bought), -1),
        ]
    )
    order_moment = np.concatenate(
        [
            history.moment[history_orders],
            web_sessions.moment[web_bought] + after_visit,
            app_sessions.moment[app_bought] + after_visit,
        ]
    )
    order_product = np.concatenate(
        [history_product[history_orders], web_sessions.viewed[web_bought, 0], app_sessions.viewed[app_bought, 0]]
    )
    order_quantity = np.concatenate([history_quantity[history_orders], np.ones(len(web_bought) + len(app_bought), int)])
    from_app = np.arange(len(order_person)) >= h + len(web_bought)
    o = len(order_person)
    order_amount = PRICES[order_product] * order_quantity

    guest = ~from_app & (~has_crm[order_person] | (rng.random(o) < 0.3))
    junk = guest & (rng.random(o) < 0.01)
    order_email = pc.if_else(pa.array(junk), _pick(rng, JUNK_EMAILS, o), _take(shown_email, order_person))
    age = as_of - order_moment
    order_status = np.where(
        age < np.timedelta64(1, "D"),
        "placed",
        np.where(age < np.timedelta64(4, "D"), "shipped", np.where(rng.random(o) < 0.04, "returned", "delivered")),
    )
    order_ids = _fmt("O", np.arange(o), 10)
    writer.write(
        "orders",
        {
            "order_id": order_ids,
            "customer_id": _mask(_take(crm_id, order_person), ~guest),
            "email": order_email,
            "phone": _mask(_take(phone_national, order_person), guest & ~junk & (rng.random(o) < 0.5)),
            "anonymous_id": _mask(_take(anonymous_id, np.maximum(order_browser, 0)), order_browser >= 0),
            "channel": _strings(np.where(from_app, "app", "web")),
            "ordered_at": _iso(order_moment),
            "status": _strings(order_status),
            "currency": pa.array(["GBP"] * o, pa.string()),
            "total_amount": _money(order_amount),
            "discount_amount": pa.array(["0.00"] * o, pa.string()),
        },
        order_person,
        pa.array(np.where(junk, "junk_email", np.where(guest, "guest_checkout", "order")).astype(object), pa.string()),
    )
    writer.write(
        "order_lines",
        {
            "order_id": order_ids,
            "line_number": pa.array(["1"] * o, pa.string()),
            "product_id": _product_ids(order_product),
            "quantity": _strings(order_quantity),
            "unit_price": _money(PRICES[order_product]),
        },
    )

    web_person = np.concatenate(
        [browser_person, browser_person, browser_person[web_sessions.owner[web_events.session]]]
    )
    e = len(web_events.session)
    writer.write(
        "web_events",
        {
            "event_id": _fmt("W", np.arange(2 * b + e), 10),
            "anonymous_id": pa.concat_arrays(
                [anonymous_id, anonymous_id, _take(anonymous_id, web_sessions.owner[web_events.session])]
            ),
            "customer_id": pa.concat_arrays(
                [pa.nulls(b, pa.string()), _mask(_take(crm_id, browser_person), logged_in), pa.nulls(e, pa.string())]
            ),
            "email": pa.concat_arrays(
                [pa.nulls(b, pa.string()), _mask(_take(email, browser_person), signed_up), pa.nulls(e, pa.string())]
            ),
            "event_type": pa.concat_arrays(
                [
                    pa.array(["page_view"] * b, pa.string()),
                    _strings(np.where(logged_in, "login", "newsletter_signup")),
                    _strings(web_events.event_type),
                ]
            ),
            "product_id": _product_ids(np.concatenate([np.full(2 * b, -1), web_events.product])),
            "order_id": pa.concat_arrays([pa.nulls(2 * b, pa.string()), _ids("O", web_events.order, 10)]),
            "quantity": _mask(
                _strings(np.ones(2 * b + e, int)),
                np.concatenate([np.zeros(2 * b, bool), web_events.event_type == "add_to_cart"]),
            ),
            "price": _product_prices(np.concatenate([np.full(2 * b, -1), web_events.product])),
            "occurred_at": pa.concat_arrays(
                [
                    _iso(_since(rng, created_moment[browser_person], as_of)),
                    _iso(_since(rng, created_moment[browser_person], as_of)),
                    _iso(web_events.moment),
                ]
            ),
            "page_url": pa.array(["https://shop.example.com/"] * (2 * b + e), pa.string()),
        },
        web_person,
    )

    # --- stores: receipts with the card, a payment card, sometimes the store's phone ----
    home_store = rng.integers(0, len(STORES), n)
    in_store = np.flatnonzero(~online)
    web_store = np.flatnonzero(web_sessions.outcome == "bought_in_store")
    app_store = np.flatnonzero(app_sessions.outcome == "bought_in_store")
    web_store_at = web_sessions.moment[web_store] + rng.integers(7200, 172_800, len(web_store)).astype("timedelta64[s]")
    app_store_at = app_sessions.moment[app_store] + rng.integers(7200, 172_800, len(app_store)).astype("timedelta64[s]")
    # a visit whose purchase would fall after the as-of moment has not happened yet: its cart is still left
    web_store, web_store_at = web_store[web_store_at < as_of], web_store_at[web_store_at < as_of]
    app_store, app_store_at = app_store[app_store_at < as_of], app_store_at[app_store_at < as_of]
    receipt_person = np.concatenate(
        [
            history.person[in_store],
            browser_person[web_sessions.owner[web_store]],
            app_people[app_sessions.owner[app_store]],
        ]
    )
    receipt_moment = np.concatenate([history.moment[in_store], web_store_at, app_store_at])
    receipt_product = np.concatenate(
        [history_product[in_store], web_sessions.viewed[web_store, 0], app_sessions.viewed[app_store, 0]]
    )
    receipt_quantity = np.concatenate([history_quantity[in_store], np.ones(len(web_store) + len(app_store), int)])
    after_cart = np.arange(len(receipt_person)) >= len(in_store)
    receipt_amount = PRICES[receipt_product] * receipt_quantity
    r = len(receipt_person)
    fingerprint_owner = np.where(in_family[receipt_person] & (rng.random(r) < 0.5), receipt_person - 1, receipt_person)
    store_phone = rng.random(r) < 0.02
    store_numbers = pa.array([f"020 7946 00{s:02d}" for s in range(len(STORES))], pa.string())
    store_ids = pa.array([store for store, *_ in STORES], pa.string())
    receipt_ids = _fmt("R", np.arange(r), 10)
    writer.write(
        "pos_transactions",
        {
            "receipt_id": receipt_ids,
            "store_id": _take(store_ids, home_store[receipt_person]),
            "loyalty_card_id": _mask(_take(card_id, receipt_person), has_card[receipt_person]),
            "email": _mask(_take(email, receipt_person), ~has_card[receipt_person]),
            "phone": _mask(_take(store_numbers, home_store[receipt_person]), store_phone),
            "payment_fingerprint": _fmt("PF", fingerprint_owner, 8),
            "transacted_at": _iso(receipt_moment),
            "type": pa.array(["sale"] * r, pa.string()),
            "currency": pa.array(["GBP"] * r, pa.string()),
            "total_amount": _money(receipt_amount),
        },
        receipt_person,
        _strings(
            np.select(
                [store_phone, fingerprint_owner != receipt_person, after_cart],
                ["store_phone_on_receipt", "shared_family_payment_card", "cart_bought_in_store"],
                "receipt",
            )
        ),
    )
    writer.write(
        "pos_lines",
        {
            "receipt_id": receipt_ids,
            "line_number": pa.array(["1"] * r, pa.string()),
            "product_id": _product_ids(receipt_product),
            "quantity": _strings(receipt_quantity),
            "unit_price": _money(PRICES[receipt_product]),
        },
    )

    # --- loyalty points: earned with the card, a bonus now and then, some redeemed -------
    with_card = np.flatnonzero(has_card[receipt_person])
    bonus_people = ids[has_card & (rng.random(n) < BONUS_SHARE)]
    bonus_at = _since(rng, created_moment[bonus_people], as_of)
    earner = np.concatenate([receipt_person[with_card], bonus_people])
    earned_at = np.concatenate([receipt_moment[with_card], bonus_at])
    earned = np.concatenate(
        [np.floor(receipt_amount[with_card] * POINTS_PER_POUND).astype(int), np.full(len(bonus_people), BONUS_POINTS)]
    )
    reason = np.concatenate([np.full(len(with_card), "purchase"), np.full(len(bonus_people), "bonus")])
    order = np.lexsort((earned_at, earner))
    running = np.cumsum(earned[order])
    before = running - earned[order] - np.concatenate([[0], running])[np.searchsorted(earner[order], earner[order])]
    crossed = order[(before < REDEEM_POINTS) & (before + earned[order] >= REDEEM_POINTS)]
    redeem_at = earned_at[crossed] + np.timedelta64(1, "D")
    redeems = crossed[(rng.random(len(crossed)) < REDEEM_SHARE) & (redeem_at < as_of)]
    entry_card = np.concatenate([earner, earner[redeems]])
    entry_at = np.concatenate([earned_at, earned_at[redeems] + np.timedelta64(1, "D")])
    entries = len(entry_card)
    writer.write(
        "loyalty_points",
        {
            "entry_id": _fmt("LP", np.arange(entries), 10),
            "loyalty_card_id": _take(card_id, entry_card),
            "points": _strings(np.concatenate([earned, np.full(len(redeems), -REDEEM_POINTS)])),
            "reason": _strings(np.concatenate([reason, np.full(len(redeems), "redeem")])),
            "occurred_at": _iso(entry_at),
            "expires_at": _mask(_iso(entry_at + POINTS_VALID), np.arange(entries) < len(earner)),
        },
    )

    # --- consents: marketing per channel against the channel's identifier, some revoked --
    phone_known = has_crm & crm_phone_shown
    subjects = {
        "email": (ids, "email", email),
        "sms": (ids[phone_known], "phone", phone_e164),
        "whatsapp": (ids[phone_known], "phone", phone_e164),
        "app_push": (app_people, "device_id", device),
        "web_push": (ids[has_crm & (browsers > 0)], "customer_id", crm_id),
    }
    consent_columns: dict[str, list[pa.Array]] = {
        name: [] for name in ("subject_type", "subject_value", "channel", "status", "recorded_at", "source")
    }
    push_changes = []
    for channel, (people, subject_type, values) in subjects.items():
        grants = people[rng.random(len(people)) < MARKETING_CONSENT[channel]]
        granted_at = np.minimum(
            created_moment[grants] + rng.integers(0, 30 * 86400, len(grants)).astype("timedelta64[s]"),
            as_of - np.timedelta64(3600, "s"),
        )
        revokes = rng.random(len(grants)) < REVOKE_SHARE
        room = (as_of - granted_at[revokes]) / np.timedelta64(1, "s") - 2
        revoked_at = granted_at[revokes] + (1 + np.floor(rng.random(revokes.sum()) * room)).astype("timedelta64[s]")
        subject = np.concatenate([grants, grants[revokes]])
        k = len(subject)
        consent_columns["subject_type"].append(pa.array([subject_type] * k, pa.string()))
        consent_columns["subject_value"].append(_take(values, subject))
        consent_columns["channel"].append(pa.array([channel] * k, pa.string()))
        consent_columns["status"].append(_strings(np.repeat(["granted", "revoked"], [len(grants), revokes.sum()])))
        consent_columns["recorded_at"].append(_iso(np.concatenate([granted_at, revoked_at])))
        consent_columns["source"].append(
            _strings(np.repeat([CONSENT_SOURCES[channel], "preference_centre"], [len(grants), revokes.sum()]))
        )
        if channel == "app_push":  # the app's permission prompt answers alongside
            push_changes = [(grants, granted_at, "push_opt_in"), (grants[revokes], revoked_at, "push_opt_out")]
    consent_table = {name: pa.concat_arrays(parts) for name, parts in consent_columns.items()}
    consent_table["purpose"] = pa.array(["marketing"] * len(consent_table["channel"]), pa.string())
    writer.write("consents", consent_table)

    # --- app events: opens, visits ending in carts, orders and store visits, push choices
    app_session_person = app_people[app_sessions.owner[app_events.session]]
    visit_person = app_people[app_sessions.owner[app_store]]
    push_person = np.concatenate([people for people, _, _ in push_changes])
    app_person = np.concatenate([app_people, borrowers, app_session_person, visit_person, push_person])
    device_owner = np.concatenate([app_people, borrowers - 1, app_session_person, visit_person, push_person])
    kind = np.concatenate(
        [
            np.full(a + len(borrowers), "app_open", dtype=object),
            app_events.event_type,
            np.full(len(visit_person), "store_visit", dtype=object),
            *(np.full(len(people), change, dtype=object) for people, _, change in push_changes),
        ]
    )
    first_session = a + len(borrowers)
    app_product = np.concatenate(
        [np.full(first_session, -1), app_events.product, np.full(len(visit_person) + len(push_person), -1)]
    )
    app_order_of = np.concatenate(
        [np.full(first_session, -1), app_events.order, np.full(len(visit_person) + len(push_person), -1)]
    )
    with_token = np.concatenate(
        [np.ones(a, bool), np.zeros(len(borrowers), bool), np.ones(len(app_person) - first_session, bool)]
    )
    visits = slice(first_session + len(app_events.session), first_session + len(app_events.session) + len(visit_person))
    app_store_id = _mask(_take(store_ids, home_store[app_person]), np.arange(len(app_person)) >= visits.start)
    writer.write(
        "app_events",
        {
            "event_id": _fmt("E", np.arange(len(app_person)), 10),
            "device_id": _take(device, device_owner),
            "customer_id": _take(crm_id, app_person),
            "push_token": _mask(_take(token, device_owner), with_token),
            "platform": _take(platform, device_owner),
            "event_type": _strings(kind),
            "product_id": _product_ids(app_product),
            "order_id": _ids("O", app_order_of, 10),
            "store_id": app_store_id,
            "occurred_at": pa.concat_arrays(
                [
                    _iso(_since(rng, created_moment[app_person[:first_session]], as_of)),
                    _iso(app_events.moment),
                    _iso(app_store_at - np.timedelta64(600, "s")),
                    *(_iso(moments) for _, moments, _ in push_changes),
                ]
            ),
        },
        app_person,
        _strings(
            np.concatenate(
                [
                    np.full(a, "app_user", dtype=object),
                    np.full(len(borrowers), "shared_family_device", dtype=object),
                    np.full(len(app_person) - first_session, "app_user", dtype=object),
                ]
            )
        ),
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
            "opened_at": _iso(_since(rng, created_moment[ticket_people], as_of)),
            "status": _strings(rng.choice(TICKET_STATUSES[0], size=t, p=TICKET_STATUSES[1])),
            "topic": pa.array(["delivery"] * t, pa.string()),
        },
        ticket_people,
    )

    writer.write(
        "products",
        {
            name: pa.array([row[i] for row in PRODUCTS], pa.string())
            for i, name in enumerate(("product_id", "name", "category", "price"))
        }
        | {"brand": pa.array(["House"] * len(PRODUCTS), pa.string())},
    )
    writer.write(
        "stores",
        {
            name: pa.array([row[i] for row in STORES], pa.string())
            for i, name in enumerate(("store_id", "name", "city", "latitude", "longitude"))
        }
        | {"country": pa.array(["GB"] * len(STORES), pa.string())},
    )
    writer.finish()
    return writer.rows


def register(commands) -> None:
    """Add `cdp generate` to the CLI's subcommands."""
    command = commands.add_parser(
        "generate", help="write synthetic raw files plus truth.csv (the true person of every row)"
    )
    command.add_argument("--persons", type=int, required=True, help="number of people")
    command.add_argument("--seed", type=int, default=0, help="random seed (same seed, same files)")
    command.add_argument("--out", type=Path, required=True, help="folder to write <table>.csv and truth.csv into")
    command.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format of the raw tables")
    command.add_argument(
        "--as-of",
        default=DEFAULT_AS_OF.isoformat() + "Z",
        help="the moment the data is current at: every timestamp lies before it; build with the same --as-of "
        "(default: %(default)s)",
    )
    command.set_defaults(handler=_generate_command)


def _generate_command(args) -> int:
    as_of = parse_as_of(args.as_of)
    rows = generate(args.persons, args.seed, args.out, args.format, as_of)
    print(f"wrote {sum(rows.values()):,} rows for {args.persons:,} persons to {args.out} (truth in truth.csv)")
    print(f"build them as of that moment: cdp build --raw-dir {args.out} --as-of {as_of.isoformat()}Z")
    return 0
