"""Run dbt commands on the bundled project, in this process."""

from __future__ import annotations

import json
import os
from pathlib import Path

from cdp.paths import project_dir, warehouse_path


class DbtError(RuntimeError):
    """A dbt command failed; dbt has already printed which node and why."""


def dbt_environment() -> None:
    """Point dbt's profile at the same warehouse file the Python steps use."""
    os.environ["CDP_WAREHOUSE"] = str(warehouse_path())
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")


def run_dbt(args: list[str], dbt_vars: dict | None = None, target: str | None = None) -> object:
    """Invoke ``dbt <args>`` against the project and return dbt's result object."""
    from dbt.cli.main import dbtRunner

    dbt_environment()
    root = project_dir()
    command = [*args, "--project-dir", str(root), "--profiles-dir", str(root)]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    if target:
        command += ["--target", target]
    result = dbtRunner().invoke(command)
    if not result.success:
        raise DbtError(f"dbt {' '.join(args)} failed" + (f": {result.exception}" if result.exception else ""))
    return result.result


def manifest_path() -> Path:
    return project_dir() / "target" / "manifest.json"
