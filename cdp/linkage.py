"""Probabilistic matching of CRM records that share no identifier, with Splink.

Runs between two dbt selections (the build plan in cdp/steps.py): it reads `stg_crm__customers`,
estimates a Fellegi-Sunter model on the retailer's own records, scores candidate pairs, and
replaces three tables in schema `linkage`, which the identity models read as dbt sources:

* `identity_match_pairs`: one row per candidate pair scored more likely than not a match;
* `identity_match_pair_comparisons`: per stored pair and comparison, the level the pair fell
  in and its match weight (what `cdp explain` shows);
* `identity_match_model`: one row per comparison level of the model, with its m and u
  probabilities, where each came from (estimated or prior), the sample size and the time.

Training (docs/identity.md): u probabilities by random sampling of record pairs, m
probabilities by expectation-maximisation over several training blockings, each leaving
other fields free, and the share of matching pairs from those runs. Below var
cdp__identity_match_min_training_records CRM records the model keeps its priors, and the
fit table and the build summary say so; a level the data never shows keeps its prior too,
also recorded.

Splink runs where the warehouse is: on DuckDB (an in-memory database beside the warehouse
file, so Splink's work tables stay out of it) or on the build's own Spark session; the
record preparation is portable SQL run in the warehouse. The threshold that lets a pair
into the graph is the dbt var `cdp__identity_match_threshold`, applied in SQL. Nothing here
logs or prints record values.
"""

from __future__ import annotations

import logging
import math
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from cdp.project_vars import project_var
from cdp.warehouse import SparkWarehouse, Warehouse

log = logging.getLogger(__name__)

LINKAGE_SCHEMA = "linkage"
MATCH_PAIRS_TABLE = "identity_match_pairs"
PAIR_COMPARISONS_TABLE = "identity_match_pair_comparisons"
MODEL_TABLE = "identity_match_model"
STORED_PROBABILITY_FLOOR = 0.5
# Record pairs drawn at random to measure u (capped by the number of pairs there are).
# The rarest levels (the same address, names swapped) show in one random pair in a
# million or fewer, so fewer pairs would leave them unmeasured.
U_SAMPLE_PAIRS = 3_000_000
# Largest number of blocked pairs one EM run reads (Splink samples records beyond it): at
# about one match in a few hundred blocked pairs, enough to estimate every m.
EM_MAX_PAIRS = 500_000
RANDOM_SEED = 1


def phonetic_key_sql(column: str) -> str:
    """A Soundex-like key of a name, in SQL that DuckDB and Spark both run.

    First letter, then up to three digits for the consonant classes of the rest (vowels,
    h, w, y and non-letters dropped, doubled codes collapsed): "smith", "smyth" and
    "smiht" all give s53. Neither warehouse has the same phonetic function as the other.
    """
    coded = f"translate(substr({column}, 2), 'bfpvcgjkqsxzdtlmnraeiouyhw0123456789 -''.', '111122222222334556')"
    for digit in "123456":
        coded = f"replace({coded}, '{digit}{digit}', '{digit}')"
    return f"substr({column}, 1, 1) || substr({coded}, 1, 3)"


# Each record as the model compares it: names lower-case, the house number split from the
# street, postcodes without spaces, plus the blocking keys. Portable SQL (no backslashes:
# Spark and DuckDB read string literals differently).
CRM_RECORDS_SQL = f"""
    with customers as (
        select
            crm_customer_id,
            nullif(lower(trim(first_name)), '') as first_name,
            nullif(lower(trim(last_name)), '') as last_name,
            cast(birth_date as string) as birth_date,
            nullif(lower(trim(street)), '') as street,
            nullif(lower(trim(city)), '') as city,
            nullif(upper(replace(postal_code, ' ', '')), '') as postal_code,
            email,
            phone
        from staging.stg_crm__customers
    )

    select
        crm_customer_id as unique_id,
        first_name,
        last_name,
        birth_date,
        nullif(regexp_extract(street, '^([0-9]+[a-z]?)[ ,]', 1), '') as street_number,
        nullif(trim(regexp_replace(street, '^[0-9]+[a-z]?[ ,]+', '')), '') as street_name,
        city,
        postal_code,
        email,
        phone,
        {phonetic_key_sql("last_name")} as last_name_key,
        substr(first_name, 1, 1) as first_initial
    from customers
    where first_name is not null or last_name is not null or birth_date is not null
"""

PAIRS_SCHEMA = pa.schema(
    [
        ("crm_customer_id_l", pa.string()),
        ("crm_customer_id_r", pa.string()),
        ("match_probability", pa.float64()),
        ("match_weight", pa.float64()),
    ]
)
PAIR_COMPARISONS_SCHEMA = pa.schema(
    [
        ("crm_customer_id_l", pa.string()),
        ("crm_customer_id_r", pa.string()),
        ("comparison_name", pa.string()),
        ("comparison_level", pa.int64()),
        ("level_label", pa.string()),
        ("match_weight", pa.float64()),
    ]
)
MODEL_SCHEMA = pa.schema(
    [
        ("comparison_name", pa.string()),
        ("comparison_level", pa.int64()),
        ("level_label", pa.string()),
        ("is_null_level", pa.bool_()),
        ("has_term_frequency_adjustment", pa.bool_()),
        ("m_probability", pa.float64()),
        ("m_source", pa.string()),
        ("u_probability", pa.float64()),
        ("u_source", pa.string()),
        ("match_weight", pa.float64()),
        ("probability_two_random_records_match", pa.float64()),
        ("probability_source", pa.string()),
        ("fit_status", pa.string()),
        ("fit_status_reason", pa.string()),
        ("record_count", pa.int64()),
        ("u_sample_pairs", pa.int64()),
        ("em_training_runs", pa.int64()),
        ("fitted_at", pa.timestamp("us")),
    ]
)

PRIOR = "prior"
ESTIMATED_M = "expectation_maximisation"
ESTIMATED_U = "random_sampling"
ESTIMATED_PROBABILITY = "expectation_maximisation"
# A level whose evidence another comparison counts (swapped names): m = u, weight 0.
COUNTED_ELSEWHERE = "counted_elsewhere"
# A level no sampled pair showed: u is at most about one in the number of pairs sampled,
# and that bound is used (the prior may be far above it, which would undervalue the level).
NONE_IN_SAMPLE = "none_in_random_sample"
# The share of pairs that match, before any data: about one duplicate per 10,000 pairs.
PRIOR_PROBABILITY_TWO_RANDOM_RECORDS_MATCH = 0.0001


@dataclass(frozen=True)
class Level:
    """One non-null comparison level: what it tests and its prior m and u.

    m: how often a true duplicate pair shows the level; u: how often two different persons do.
    """

    creator: object
    label: str
    m: float
    u: float
    # Evidence that another comparison already counts: m = u, fixed, so its weight is 0.
    counted_elsewhere: bool = False


def _one_character(column: str):
    """Damerau-Levenshtein distance at most 1, computed only where it can hold.

    DuckDB's Damerau-Levenshtein is slow (about 100 microseconds for two e-mails), and a
    build would compute it on millions of pairs. One edit (insert, delete, substitute or
    swap neighbours) leaves the lengths within one and leaves either the first or the last
    k characters alike, k = floor((shorter length - 1) / 2), since the edit falls in one
    half. That test is a few string comparisons, so the distance is computed only for the
    pairs passing it: an exact shortcut, not an approximation. It is a CASE because both
    warehouses evaluate CASE branches lazily, and DuckDB does not skip the right side of an AND.
    """
    from splink.internals.comparison_level_library import DamerauLevenshteinLevel

    class GuardedDamerauLevenshteinLevel(DamerauLevenshteinLevel):
        def create_sql(self, sql_dialect) -> str:
            distance = super().create_sql(sql_dialect)
            left, right = self.col_expression.name_l, self.col_expression.name_r
            k = f"cast(floor(({sql_dialect.least_function_name}(length({left}), length({right})) - 1) / 2) as int)"
            same_start = f"substr({left}, 1, {k}) = substr({right}, 1, {k})"
            same_end = (
                f"substr({left}, length({left}) - {k} + 1, {k}) = substr({right}, length({right}) - {k} + 1, {k})"
            )
            possible = f"abs(length({left}) - length({right})) <= 1 and ({same_start} or {same_end})"
            return f"case when {possible} then {distance} else false end"

    return GuardedDamerauLevenshteinLevel(column, 1)


def _comparisons():
    """The comparisons, each a name and its non-null levels in order (first that holds wins)."""
    import splink.comparison_level_library as cll

    # First and last name exchanged (typed into each other's field) is one piece of
    # evidence: first_name counts it, last_name recognises it and adds nothing.
    def swapped():
        return cll.ColumnsReversedLevel("first_name", "last_name", symmetrical=True)

    def name_levels(column: str, exact_m: float, exact_u: float, swapped_level: Level) -> list[Level]:
        return [
            Level(
                cll.ExactMatchLevel(column, term_frequency_adjustments=True),
                "exact",
                exact_m,
                exact_u,
            ),
            swapped_level,
            Level(cll.JaroWinklerLevel(column, 0.92), "jaro_winkler_0.92", 0.08, 0.004),
            Level(cll.JaroWinklerLevel(column, 0.80), "jaro_winkler_0.80", 0.05, 0.03),
        ]

    day_month_swapped = cll.CustomLevel(
        "substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4)"
        " and substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2)"
        " and substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)"
    )

    def same_house():
        return cll.DamerauLevenshteinLevel("street_number", 1), cll.JaroWinklerLevel("street_name", 0.88)

    email_user = (
        "substr(email_l, 1, instr(email_l, '@') - 1) = substr(email_r, 1, instr(email_r, '@') - 1)"
        " and instr(email_l, '@') > 1"
    )
    return {
        "first_name": name_levels("first_name", 0.80, 0.02, Level(swapped(), "swapped", 0.01, 0.00001)),
        "last_name": name_levels(
            "last_name",
            0.82,
            0.005,
            Level(swapped(), "swapped_counted_under_first_name", 0.001, 0.001, counted_elsewhere=True),
        ),
        "birth_date": [
            Level(cll.ExactMatchLevel("birth_date"), "exact", 0.85, 0.0001),
            Level(day_month_swapped, "day_and_month_swapped", 0.02, 0.00001),
            Level(_one_character("birth_date"), "one_character", 0.08, 0.002),
        ],
        # One comparison for the address: its parts are not independent evidence (the
        # postcode says the city, and often the street), and counting a shared home four
        # times would merge people who live together.
        "address": [
            Level(
                cll.And(
                    cll.ExactMatchLevel("postal_code"),
                    cll.ExactMatchLevel("street_number"),
                    cll.ExactMatchLevel("street_name"),
                ),
                "same_address",
                0.60,
                0.00005,
            ),
            # the same house with typos, placed by the postcode (a few streets) or, less
            # surely, by the city
            Level(
                cll.And(*same_house(), _one_character("postal_code")),
                "same_house_and_postcode_with_typos",
                0.12,
                0.00001,
            ),
            Level(cll.ExactMatchLevel("postal_code"), "same_postcode", 0.05, 0.001),
            Level(cll.And(*same_house(), cll.JaroWinklerLevel("city", 0.90)), "same_house_and_city", 0.08, 0.0005),
            Level(
                cll.And(cll.JaroWinklerLevel("street_name", 0.88), cll.JaroWinklerLevel("city", 0.90)),
                "same_street_and_city",
                0.04,
                0.0005,
            ),
            Level(
                cll.Or(cll.ExactMatchLevel("city"), _one_character("postal_code")),
                "same_city_or_postcode_with_typo",
                0.06,
                0.05,
            ),
        ],
        # A duplicate record often carries another address (that is why it is a
        # duplicate), so a different e-mail or phone is weak evidence against, a shared one
        # strong for. No similarity level on e-mails: addresses are made of names, so
        # namesakes' addresses are alike (john.smith1@ and john.smith2@ are one character
        # apart) and such a level would count the names a second time.
        "email": [
            Level(cll.ExactMatchLevel("email"), "exact", 0.50, 0.0001),
            Level(cll.CustomLevel(email_user), "same_user_name", 0.10, 0.0005),
        ],
        "phone": [
            Level(cll.ExactMatchLevel("phone"), "exact", 0.60, 0.0001),
            Level(_one_character("phone"), "one_digit", 0.10, 0.001),
        ],
    }


ADDRESS_PARTS = ("street_name", "postal_code", "city")


def _null_level(name: str):
    """Neutral when either record lacks the field (for the address: lacks every part that decides a level)."""
    import splink.comparison_level_library as cll

    if name != "address":
        return cll.NullLevel(name).configure(label_for_charts="missing")
    return cll.And(*(cll.NullLevel(part) for part in ADDRESS_PARTS)).configure(
        is_null_level=True, label_for_charts="missing"
    )


# The "else" level (both filled, none of the levels above) takes what m and u are left.
def _else_prior(levels: list[Level]) -> tuple[float, float]:
    return 1 - sum(level.m for level in levels), 1 - sum(level.u for level in levels)


def prediction_blocking_rules():
    """Candidate pairs: records sharing any one of these keys are compared.

    Postcode; birth date; the sound of the surname with the house number; house number,
    street and postcode area; first name and house number; first initial, the sound of
    the surname and street; a shared e-mail or phone. Typos in any two fields leave at
    least one key whole: unless the two are postcode and birth date, one of those two
    keys survives, and if they are, the name-and-address keys do. Keys on common values
    alone (full name, city) were left out: on a CRM with few distinct names they make
    most of the comparisons and find few pairs the others miss.
    """
    from splink import block_on

    return [
        block_on("postal_code"),
        block_on("birth_date"),
        block_on("last_name_key", "street_number"),
        block_on("street_number", "street_name", "substr(postal_code, 1, 2)"),
        block_on("first_name", "street_number"),
        block_on("first_initial", "last_name_key", "street_name"),
        block_on("email"),
        block_on("phone"),
    ]


def training_blocking_rules():
    """EM runs: each blocks on some fields and estimates the m of all the others.

    Birth date leaves every name, address and contact field free; the full name frees
    birth date, address and contacts. Every compared field is therefore free in at least
    one run. Each rule is an exact match of whole comparison levels (birth date exact;
    first and last name exact), which is what carrying a run's match share back to all
    pairs needs: Splink divides it by those levels' Bayes factors. A postcode run would
    not do: postcode equality is spread over several address levels.
    """
    from splink import block_on

    return [block_on("birth_date"), block_on("first_name", "last_name")]


def splink_settings():
    """Comparisons (with their priors) and prediction blocking of the CRM matching model."""
    import splink.comparison_level_library as cll
    from splink import SettingsCreator
    from splink.comparison_library import CustomComparison

    comparisons = []
    for name, levels in _comparisons().items():
        else_m, else_u = _else_prior(levels)
        comparisons.append(
            CustomComparison(
                output_column_name=name,
                comparison_levels=[
                    _null_level(name),
                    *(
                        level.creator.configure(
                            label_for_charts=level.label,
                            m_probability=level.m,
                            u_probability=level.u,
                            fix_m_probability=level.counted_elsewhere,
                            fix_u_probability=level.counted_elsewhere,
                        )
                        for level in levels
                    ),
                    cll.ElseLevel().configure(label_for_charts="different", m_probability=else_m, u_probability=else_u),
                ],
            )
        )
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=prediction_blocking_rules(),
        probability_two_random_records_match=PRIOR_PROBABILITY_TWO_RANDOM_RECORDS_MATCH,
        # Both needed for the comparison levels (gamma_*) and match weights (mw_*) of each pair.
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=True,
    )


@dataclass(frozen=True)
class MatchReport:
    records: int
    pairs: int
    fit_status: str
    reason: str | None


def match_crm_records(warehouse: Warehouse) -> MatchReport:
    """Estimate the model, score the pairs, and replace the `linkage` tables; return what was done."""
    pairs, comparisons, model, report = score_pairs(warehouse)
    warehouse.replace_tables(
        LINKAGE_SCHEMA, {MATCH_PAIRS_TABLE: pairs, PAIR_COMPARISONS_TABLE: comparisons, MODEL_TABLE: model}
    )
    log.info(
        "Splink: %s CRM records, %s pairs stored, model %s%s",
        f"{report.records:,}",
        f"{report.pairs:,}",
        report.fit_status,
        f" ({report.reason})" if report.reason else "",
    )
    return report


def score_pairs(warehouse: Warehouse) -> tuple[pa.Table, pa.Table, pa.Table, MatchReport]:
    """(pairs, per-comparison levels of the pairs, model parameters, report) for the warehouse's CRM."""
    from splink import Linker

    record_count = warehouse.query(f"select count(*) from ({CRM_RECORDS_SQL}) as records")[0][0]
    fitted_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    with _splink_beside(warehouse) as (db_api, records):
        linker = Linker(db_api.register(records), splink_settings(), log_level=logging.WARNING)
        fit = _train(linker, record_count)
        model = _model_table(linker, fit, record_count, fitted_at)
        if record_count < 2:
            return _empty(PAIRS_SCHEMA), _empty(PAIR_COMPARISONS_SCHEMA), model, MatchReport(record_count, 0, *fit[:2])
        predictions = linker.inference.predict(
            threshold_match_probability=STORED_PROBABILITY_FLOOR, warning_mode="never"
        )
        # Pairs above the floor are few (about one per duplicate record), so they are
        # collected and written back through the warehouse like any other table.
        scored = predictions.as_pyarrow_table()
    pairs = pa.table(
        {
            "crm_customer_id_l": scored["unique_id_l"].cast(pa.string()),
            "crm_customer_id_r": scored["unique_id_r"].cast(pa.string()),
            "match_probability": scored["match_probability"].cast(pa.float64()),
            "match_weight": scored["match_weight"].cast(pa.float64()),
        },
        schema=PAIRS_SCHEMA,
    )
    return pairs, _pair_comparisons(scored, model), model, MatchReport(record_count, pairs.num_rows, *fit[:2])


def _train(linker, record_count: int) -> tuple[str, str | None, int, int]:
    """Estimate u, m and the match share on the data; (status, reason, u pairs, EM runs)."""
    min_records = int(project_var("cdp__identity_match_min_training_records"))
    if record_count < min_records:
        reason = (
            f"{record_count:,} CRM records, fewer than {min_records:,} (cdp__identity_match_min_training_records):"
            " the model keeps its priors"
        )
        return "priors", reason, 0, 0
    u_pairs = int(min(U_SAMPLE_PAIRS, record_count * (record_count - 1) / 2))
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=RANDOM_SEED)
    rules = training_blocking_rules()
    for index, rule in enumerate(rules):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule,
            max_pairs=EM_MAX_PAIRS,
            # After the last run every blocked field has m and u from another run, so the
            # match share of each blocked run can be carried back to all pairs.
            populate_probability_two_random_records_match_from_trained_values=index == len(rules) - 1,
        )
    return "trained", None, u_pairs, len(rules)


def _model_table(linker, fit: tuple[str, str | None, int, int], record_count: int, fitted_at: datetime) -> pa.Table:
    """One row per comparison level; levels the data could not estimate are set back to their prior."""
    status, reason, u_pairs, em_runs = fit
    settings = linker._settings_obj
    priors = _comparisons()
    rows = []
    for comparison in settings.comparisons:
        name = comparison.output_column_name
        else_m, else_u = _else_prior(priors[name])
        level_priors = [*priors[name], Level(None, "different", else_m, else_u)]
        non_null = [level for level in comparison.comparison_levels if not level.is_null_level]
        for level in comparison.comparison_levels:
            row = {
                "comparison_name": name,
                "comparison_level": level.comparison_vector_value,
                "level_label": level.label_for_charts,
                "is_null_level": level.is_null_level,
                "has_term_frequency_adjustment": bool(level._tf_adjustment_input_column),
            }
            if level.is_null_level:
                rows.append({**row, "m_probability": None, "m_source": None, "u_probability": None, "u_source": None})
                continue
            prior = level_priors[non_null.index(level)]
            trained = status == "trained" and not prior.counted_elsewhere
            unestimated = COUNTED_ELSEWHERE if prior.counted_elsewhere else PRIOR
            m_source = ESTIMATED_M if trained and level._has_estimated_m_values else unestimated
            level.m_probability = level._trained_m_median if m_source == ESTIMATED_M else prior.m
            if trained and level._has_estimated_u_values:
                u_source, level.u_probability = ESTIMATED_U, level._trained_u_median
            elif trained and 1 / u_pairs < prior.u:
                u_source, level.u_probability = NONE_IN_SAMPLE, 1 / u_pairs
            else:
                u_source, level.u_probability = unestimated, prior.u
            rows.append(
                {
                    **row,
                    "m_probability": level.m_probability,
                    "m_source": m_source,
                    "u_probability": level.u_probability,
                    "u_source": u_source,
                }
            )
    probability = settings._probability_two_random_records_match
    estimated_probability = status == "trained" and probability != PRIOR_PROBABILITY_TWO_RANDOM_RECORDS_MATCH
    for row in rows:
        m, u = row["m_probability"], row["u_probability"]
        row["match_weight"] = math.log2(m / u) if m and u else None
        row.update(
            probability_two_random_records_match=probability,
            probability_source=ESTIMATED_PROBABILITY if estimated_probability else PRIOR,
            fit_status=status,
            fit_status_reason=reason,
            record_count=record_count,
            u_sample_pairs=u_pairs,
            em_training_runs=em_runs,
            fitted_at=fitted_at,
        )
    return pa.Table.from_pylist(rows, schema=MODEL_SCHEMA)


def _pair_comparisons(scored: pa.Table, model: pa.Table) -> pa.Table:
    """Long form of the scored pairs: each comparison's level and match weight (term frequencies included)."""
    labels = {(row["comparison_name"], row["comparison_level"]): row["level_label"] for row in model.to_pylist()}
    names = list(dict.fromkeys(model.column("comparison_name").to_pylist()))
    columns = {name: [] for name in PAIR_COMPARISONS_SCHEMA.names}
    left = scored["unique_id_l"].cast(pa.string()).to_pylist()
    right = scored["unique_id_r"].cast(pa.string()).to_pylist()
    for name in names:
        gammas = scored[f"gamma_{name}"].to_pylist()
        weights = scored[f"mw_{name}"].to_pylist()
        tf_column = f"mw_tf_adj_{name}"
        adjustments = scored[tf_column].to_pylist() if tf_column in scored.column_names else [0.0] * len(gammas)
        for index, gamma in enumerate(gammas):
            columns["crm_customer_id_l"].append(left[index])
            columns["crm_customer_id_r"].append(right[index])
            columns["comparison_name"].append(name)
            columns["comparison_level"].append(gamma)
            columns["level_label"].append(labels.get((name, gamma)))
            columns["match_weight"].append((weights[index] or 0.0) + (adjustments[index] or 0.0))
    return pa.table(columns, schema=PAIR_COMPARISONS_SCHEMA)


def candidate_pairs(records: pa.Table) -> pa.Table:
    """The (unique_id_l, unique_id_r) pairs the prediction blocking rules generate (for measuring blocking recall)."""
    from splink import DuckDBAPI, Linker

    with duckdb.connect() as database:
        linker = Linker(DuckDBAPI(database).register(records), splink_settings(), log_level=logging.WARNING)
        pairs = linker.inference.deterministic_link().as_pyarrow_table()
    return pairs.select(["unique_id_l", "unique_id_r"])


def _empty(schema: pa.Schema) -> pa.Table:
    return schema.empty_table()


@contextmanager
def _splink_beside(warehouse: Warehouse):
    """Splink's database API where the warehouse is, and the CRM records as that API takes them; freed on exit."""
    if isinstance(warehouse, SparkWarehouse):
        # The records stay in Spark, and the session has Splink's similarity functions
        # (cdp/spark_session.py). Splink's intermediate tables are temporary views,
        # cached in the session rather than written to a checkpoint directory; the
        # session lives on for the next dbt stage, so they are dropped afterwards.
        session = warehouse.session
        try:
            yield _spark_api(session), session.sql(CRM_RECORDS_SQL)
        finally:
            for table in session.catalog.listTables():
                if table.isTemporary and table.name.startswith("__splink__"):
                    session.catalog.dropTempView(table.name)
            # The build caches nothing else, so this frees exactly what Splink cached.
            session.catalog.clearCache()
        return
    from splink import DuckDBAPI

    # An in-memory database keeps Splink's work tables out of the warehouse file.
    records = warehouse.conn.sql(CRM_RECORDS_SQL).to_arrow_table()
    with duckdb.connect() as splink_database:
        yield DuckDBAPI(splink_database), records


def _spark_api(session):
    """Splink's Spark backend, writing its SQL with sqlglot's own Spark dialect.

    Splink renders Spark SQL through a subclass of sqlglot's Spark dialect whose only
    change writes float literals cast to double as `1.0D` (Spark reads long decimal
    literals as DECIMAL, capped at 38 digits). sqlglot's compiled build (sqlglotc, which
    dagster-dbt's `sqlglot[rs]` requirement installs) refuses subclasses of its compiled
    dialect classes ("interpreted classes cannot inherit from compiled"), so that path
    fails. The literals Splink writes come from Python floats (at most 17 significant
    digits, scientific notation for the very small), well inside Spark's decimal range,
    so the stock dialect runs the same queries with the same results.
    """
    import sqlglot
    from splink.backends.spark import SparkAPI

    class SparkAPIWithStockDialect(SparkAPI):
        def _setup_for_execute_sql(self, sql: str, physical_name: str) -> str:
            return sqlglot.transpile(sql, read="spark", write="spark", pretty=True)[0]

    return SparkAPIWithStockDialect(spark_session=session, break_lineage_method="persist")
