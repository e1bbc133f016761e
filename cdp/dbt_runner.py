"""Run dbt commands on the bundled project.

On DuckDB each dbt command runs in its own process (as the Dagster integration does
too), so that no warehouse connection outlives the command: DuckDB allows one writer per
file, and the Python steps that follow dbt must be able to open it. On Spark dbt runs in
this process, on the session the Python steps use: the embedded metastore admits one
JVM at a time, and the JVM outlives a stopped session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cdp.paths import project_dir, warehouse_path


class DbtError(RuntimeError):
    """A dbt command failed; dbt has already printed which node and why."""


def dbt_environment() -> dict[str, str]:
    """Point dbt's profile at the same warehouse file the Python steps use."""
    os.environ["CDP_WAREHOUSE"] = str(warehouse_path())
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return dict(os.environ)


def dbt_command(args: list[str], dbt_vars: dict | None = None, target: str | None = None) -> list[str]:
    root = project_dir()
    command = [sys.executable, "-m", "cdp.dbt_entry", *args, "--project-dir", str(root), "--profiles-dir", str(root)]
    if dbt_vars:
        command += ["--vars", json.dumps(dbt_vars)]
    if target:
        command += ["--target", target]
    return command


def run_dbt(args: list[str], dbt_vars: dict | None = None, target: str | None = None) -> None:
    """Run ``dbt <args>`` against the project; raise DbtError when it fails."""
    command = dbt_command(args, dbt_vars, target)
    if target == "spark":
        from cdp.dbt_entry import main

        dbt_environment()
        returncode = main(command[3:])
    else:
        returncode = subprocess.run(command, env=dbt_environment(), cwd=project_dir()).returncode
    if returncode != 0:
        raise DbtError(f"dbt {' '.join(args)} failed (exit code {returncode}); see dbt's output above")


def target_dir() -> Path:
    """dbt's target folder: DBT_TARGET_PATH when set (dbt reads it too; relative to the project), else target/."""
    configured = Path(os.environ.get("DBT_TARGET_PATH") or "target")
    return configured if configured.is_absolute() else project_dir() / configured


def manifest_path() -> Path:
    return target_dir() / "manifest.json"
