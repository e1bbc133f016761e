"""Probabilistic matching of CRM records that share no identifier, with Splink.

Runs between two dbt selections (the build plan in cdp/steps.py): it reads `stg_crm__customers`,
scores candidate pairs with a Fellegi-Sunter model (Splink), and replaces
`linkage.identity_match_pairs`, which the identity models read as a dbt source. Splink
runs where the warehouse is: on DuckDB (an in-memory database beside the warehouse
file, so Splink's work tables stay out of it) or on the build's own Spark session.
Settings, priors, the stored-probability floor and the output are the same on both.
Pairs less likely than not are not stored; the threshold that lets a pair into
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
from contextlib import contextmanager

import duckdb
import pyarrow as pa

from cdp.warehouse import SparkWarehouse, Warehouse

LINKAGE_SCHEMA = "linkage"
MATCH_PAIRS_TABLE = "identity_match_pairs"
STORED_PROBABILITY_FLOOR = 0.5
# Below this many records the chance agreement rates are left at their priors.
MIN_RECORDS_TO_MEASURE_U = 10_000

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


def match_crm_records(warehouse: Warehouse) -> int:
    """Replace linkage.identity_match_pairs with this build's scored pairs; return their number."""
    pairs = score_pairs(warehouse)
    warehouse.replace_tables(LINKAGE_SCHEMA, {MATCH_PAIRS_TABLE: pairs})
    return pairs.num_rows


def score_pairs(warehouse: Warehouse) -> pa.Table:
    """Candidate duplicate pairs among the warehouse's CRM records, with Splink's match probability."""
    record_count = warehouse.query(f"select count(*) from ({CRM_RECORDS_SQL}) as records")[0][0]
    if record_count < 2:
        return EMPTY_PAIRS
    from splink import Linker

    with _splink_beside(warehouse) as (db_api, records):
        linker = Linker(db_api.register(records), splink_settings(), log_level=logging.WARNING)
        if record_count >= MIN_RECORDS_TO_MEASURE_U:
            linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
        predictions = linker.inference.predict(
            threshold_match_probability=STORED_PROBABILITY_FLOOR, warning_mode="never"
        )
        # Pairs above the floor are few (about one per duplicate record), so they are
        # collected and written back through the warehouse like any other table.
        pairs = predictions.as_pyarrow_table()
    return pa.table(
        {
            "crm_customer_id_l": pairs["unique_id_l"].cast(pa.string()),
            "crm_customer_id_r": pairs["unique_id_r"].cast(pa.string()),
            "match_probability": pairs["match_probability"].cast(pa.float64()),
            "match_weight": pairs["match_weight"].cast(pa.float64()),
        }
    )


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
