"""The local Spark session used by the `spark` dbt target, with the project's SQL functions."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def spark_session():
    """Create (or return) the session dbt-spark's session method will pick up."""
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StringType
    from splink.backends.spark import similarity_jar_location

    from cdp.paths import project_dir
    from cdp.phones import to_e164

    # Python UDF workers must run the interpreter that has this project installed.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Tables and the embedded metastore live together, like the DuckDB file does:
    # CDP_SPARK_WAREHOUSE, else warehouse/spark in the project.
    root = Path(os.environ.get("CDP_SPARK_WAREHOUSE") or project_dir() / "warehouse" / "spark").resolve()
    root.mkdir(parents=True, exist_ok=True)
    session = (
        SparkSession.builder.appName("cdp")
        .master(os.environ.get("CDP_SPARK_MASTER", "local[2]"))
        .config("spark.sql.session.timeZone", "UTC")
        # String literals as written, as on DuckDB: a backslash in a regular expression
        # (or in a seed value, which dbt-spark inserts as a literal) stays a backslash.
        .config("spark.sql.parser.escapedStringLiterals", "true")
        .config("spark.sql.warehouse.dir", str(root / "tables"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true",
        )
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={root}")
        .config("spark.ui.enabled", "false")
        # The plan's allocation rounds are unrolled into one statement (fct_message_plan),
        # deeper than the 100 passes Spark's analyzer allows by default.
        .config("spark.sql.analyzer.maxIterations", "1000")
        # Splink's string similarity functions (Jaro-Winkler and others), from the jar
        # inside the splink package: the probabilistic matching step runs in this session.
        .config("spark.jars", similarity_jar_location())
        .enableHiveSupport()
        .getOrCreate()
    )
    session.udf.register("cdp_e164", to_e164, StringType())
    return session
