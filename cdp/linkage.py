"""Probabilistic matching of CRM records that share no identifier, with Splink.

Runs between two dbt selections (the build plan in cdp/steps.py): it reads `stg_crm__customers`,
scores candidate pairs with a Fellegi-Sunter model (Splink on an in-memory DuckDB),
and replaces `linkage.identity_match_pairs`, which the identity models read as a dbt
source. Pairs less likely than not are not stored; the threshold that lets a pair into
the graph is the dbt var `cdp__identity_match_threshold`, applied in SQL, so that it
lives in one place.

The model's m and u probabilities start from documented priors (docs/identity.md)
because a retailer's CRM has no labelled pairs and small CRMs are too small for
expectation-maximisation; with enough records the u probabilities (how often values
agree by chance) are measured on the data by random sampling, which Splink does well.
Nothing here logs or prints record values.
"""

from __future__ import annotations

import logging
import duckdb
import pyarrow as pa

from cdp.warehouse import Warehouse

LINKAGE_SCHEMA = "linkage"
MATCH_PAIRS_TABLE = "identity_match_pairs"
STORED_PROBABILITY_FLOOR = 0.5
# Below this many records the chance agreement rates are left at their priors.
MIN_RECORDS_TO_MEASURE_U = 10_000

CRM_RECORD_COLUMNS = ("unique_id", "first_name", "last_name", "birth_date", "postal_code")
CRM_RECORDS_SQL = """
    select
        crm_customer_id as unique_id,
        lower(first_name) as first_name,
        lower(last_name) as last_name,
        cast(birth_date as string) as birth_date,
        upper(replace(postal_code, ' ', '')) as postal_code
    from staging.stg_crm__customers
    where first_name is not null or last_name is not null or birth_date is not null
"""

EMPTY_PAIRS = pa.table(
    {
        "crm_customer_id_l": pa.array([], pa.string()),
        "crm_customer_id_r": pa.array([], pa.string()),
        "match_probability": pa.array([], pa.float64()),
        "match_weight": pa.array([], pa.float64()),
    }
)


def splink_settings():
    """Comparisons, blocking and prior m/u probabilities of the CRM matching model."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    # m: how often a true duplicate shows the level; u: how often two strangers do.
    # Levels in order: exact, close, further, anything else.
    first_name = cl.JaroWinklerAtThresholds("first_name", [0.92, 0.8]).configure(
        m_probabilities=[0.88, 0.06, 0.03, 0.03], u_probabilities=[0.01, 0.005, 0.02, 0.965]
    )
    last_name = cl.JaroWinklerAtThresholds("last_name", [0.92, 0.8]).configure(
        m_probabilities=[0.88, 0.07, 0.03, 0.02], u_probabilities=[0.002, 0.002, 0.01, 0.986]
    )
    birth_date = cl.ExactMatch("birth_date").configure(
        m_probabilities=[0.98, 0.02], u_probabilities=[0.0003, 0.9997]
    )
    # Street and city are left out: they mostly repeat what the postcode says, and
    # counting one address three times would merge people who live together.
    postal_code = cl.LevenshteinAtThresholds("postal_code", 1).configure(
        m_probabilities=[0.85, 0.08, 0.07], u_probabilities=[0.0005, 0.0015, 0.998]
    )
    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[first_name, last_name, birth_date, postal_code],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date", "substr(postal_code, 1, 2)"),
            block_on("first_name", "last_name"),
        ],
        probability_two_random_records_match=0.0001,
        retain_matching_columns=False,
    )


def score_pairs(records: pa.Table) -> pa.Table:
    """Candidate duplicate pairs among CRM records, with Splink's match probability."""
    if records.num_rows < 2:
        return EMPTY_PAIRS
    from splink import DuckDBAPI, Linker

    db_api = DuckDBAPI(duckdb.connect())
    linker = Linker(db_api.register(records), splink_settings(), log_level=logging.WARNING)
    if records.num_rows >= MIN_RECORDS_TO_MEASURE_U:
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    predictions = linker.inference.predict(
        threshold_match_probability=STORED_PROBABILITY_FLOOR, warning_mode="never"
    ).as_duckdbpyrelation()
    return predictions.select(
        "unique_id_l as crm_customer_id_l, unique_id_r as crm_customer_id_r, match_probability, match_weight"
    ).to_arrow_table()


def match_crm_records(warehouse: Warehouse) -> int:
    """Replace linkage.identity_match_pairs with this build's scored pairs; return their number.

    The records are read through the warehouse (DuckDB or Spark) and scored by Splink on
    an in-memory DuckDB, so both targets link the same records the same way; a CRM too
    large for one machine would move the scoring to `splink.SparkAPI`.
    """
    rows = warehouse.query(CRM_RECORDS_SQL)
    records = pa.table({name: pa.array([row[index] for row in rows], pa.string())
                        for index, name in enumerate(CRM_RECORD_COLUMNS)})
    pairs = score_pairs(records)
    warehouse.replace_tables(LINKAGE_SCHEMA, {MATCH_PAIRS_TABLE: pairs})
    return pairs.num_rows
