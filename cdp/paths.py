"""Where the project, the warehouse file and the bundled demo data are."""

from __future__ import annotations

import os
from pathlib import Path


def project_dir() -> Path:
    """The dbt project root: CDP_PROJECT_DIR, else the checkout this package lives in."""
    configured = os.environ.get("CDP_PROJECT_DIR")
    root = Path(configured) if configured else Path(__file__).resolve().parents[1]
    if not (root / "dbt_project.yml").is_file():
        raise FileNotFoundError(f"no dbt_project.yml in {root}; set CDP_PROJECT_DIR to the project checkout")
    return root


def warehouse_path() -> Path:
    """The embedded DuckDB file: CDP_WAREHOUSE, else warehouse/cdp.duckdb in the project."""
    configured = os.environ.get("CDP_WAREHOUSE")
    path = Path(configured) if configured else Path("warehouse") / "cdp.duckdb"
    return path if path.is_absolute() else project_dir() / path


def demo_raw_dir() -> Path:
    return project_dir() / "seeds" / "demo"
