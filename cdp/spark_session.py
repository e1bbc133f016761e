"""The local Spark session used by the `spark` dbt target, with the project's SQL functions."""

from __future__ import annotations

import os
import re
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
    master = os.environ.get("CDP_SPARK_MASTER", "local[2]")
    builder = SparkSession.builder.appName("cdp").master(master)
    partitions = shuffle_partitions(master)
    if partitions:
        builder = builder.config("spark.sql.shuffle.partitions", str(partitions))
    session = (
        builder.config("spark.sql.session.timeZone", "UTC")
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


def shuffle_partitions(master: str) -> int | None:
    """Partitions of a shuffle: CDP_SPARK_SHUFFLE_PARTITIONS, else two per core of a local master.

    Spark's default of 200 suits a cluster; on one machine every shuffle of every model
    would run 200 tasks, most of them empty. A cluster master keeps Spark's own setting
    (None) unless the variable says otherwise.
    """
    configured = os.environ.get("CDP_SPARK_SHUFFLE_PARTITIONS")
    if configured:
        if not configured.isdigit() or int(configured) < 1:
            raise ValueError(f"CDP_SPARK_SHUFFLE_PARTITIONS must be a whole number of 1 or more, not {configured!r}")
        return int(configured)
    local = re.fullmatch(r"local(?:\[(\d+|\*)\])?", master)
    if not local:
        return None
    threads = local.group(1)
    if threads is None:
        return 2  # `local` is one thread
    return 2 * (os.cpu_count() or 1) if threads == "*" else 2 * int(threads)
