"""The local Spark session used by the `spark` dbt target, with the project's SQL functions."""

from __future__ import annotations

import os
import sys


def spark_session():
    """Create (or return) the session dbt-spark's session method will pick up."""
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StringType

    from cdp.phones import to_e164

    # Python UDF workers must run the interpreter that has this project installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    warehouse_dir = os.environ.get("CDP_SPARK_WAREHOUSE", os.path.abspath("spark-warehouse"))
    session = (
        SparkSession.builder.appName("cdp")
        .master(os.environ.get("CDP_SPARK_MASTER", "local[2]"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", warehouse_dir)
        .config("spark.ui.enabled", "false")
        .enableHiveSupport()
        .getOrCreate()
    )
    session.udf.register("cdp_e164", to_e164, StringType())
    return session
