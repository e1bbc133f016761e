"""`python -m cdp.dbt_entry <dbt arguments>`: dbt, with the project's SQL functions.

On DuckDB the functions come from the dbt-duckdb plugin in profiles.yml. On Spark they
must be registered on the session before dbt (session method) picks it up, which is why
dbt runs through this module rather than the plain `dbt` executable.
"""

from __future__ import annotations

import sys


def _target(argv: list[str]) -> str | None:
    if "--target" in argv:
        return argv[argv.index("--target") + 1]
    import os

    return os.environ.get("CDP_DBT_TARGET")


def main(argv: list[str]) -> int:
    if _target(argv) == "spark":
        from cdp.spark_session import spark_session

        spark_session()
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke(argv)
    return 0 if result.success else (2 if result.exception else 1)


def cli() -> None:
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    cli()
