"""dbt-duckdb plugin: registers the SQL functions the models call on DuckDB.

profiles.yml lists this module under ``plugins``; dbt-duckdb calls
``configure_connection`` on every connection it opens.
"""

from __future__ import annotations

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection
from duckdb.sqltypes import VARCHAR

from cdp.phones import to_e164


def _e164_batch(texts: pa.Array, regions: pa.Array) -> pa.Array:
    return pa.array(
        [to_e164(text, region) for text, region in zip(texts.to_pylist(), regions.to_pylist(), strict=True)],
        pa.string(),
    )


def register_functions(conn: DuckDBPyConnection) -> None:
    """Register cdp_e164(text, region) on a DuckDB connection."""
    conn.create_function(
        "cdp_e164",
        _e164_batch,
        [VARCHAR, VARCHAR],
        VARCHAR,
        type="arrow",
        null_handling="special",
        side_effects=False,
    )


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register_functions(conn)
