"""`cdp build`: load raw files, build every model, report what happened.

The steps run strictly one after another against the warehouse file (DuckDB allows one
writer at a time): load the raw files, then `BUILD_STEPS` in order. Python steps
(linkage, model fits) sit between dbt selections; their output tables are dbt sources,
and each dbt selection is "everything (not) downstream of those sources". The Dagster
definitions reuse `BUILD_STEPS` rather than restating the order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from cdp.contract import raw_contract
from cdp.dbt_runner import run_dbt
from cdp.linkage import match_crm_records
from cdp.paths import demo_raw_dir, warehouse_path
from cdp.raw_loader import LoadReport, load_raw_dir


def parse_as_of(text: str) -> datetime:
    """An ISO-8601 timestamp as naive UTC; text without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(f"--as-of must be an ISO-8601 timestamp such as 2026-11-20T09:00:00Z, got {text!r}") from error
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def demo_as_of() -> datetime:
    """The moment the bundled demo data's stories are told from (seeds/demo/as_of.txt)."""
    return parse_as_of((demo_raw_dir() / "as_of.txt").read_text())


# Models that read what Python steps write (dbt sources in schema `linkage`).
AFTER_PYTHON_STEPS = "source:cdp_linkage+"


@dataclass(frozen=True)
class BuildContext:
    warehouse: Path
    dbt_vars: dict
    target: str | None


@dataclass(frozen=True)
class BuildStep:
    name: str
    run: Callable[[BuildContext], object]


BUILD_STEPS: tuple[BuildStep, ...] = (
    BuildStep(
        "dbt build: staging, identity graph and everything else that needs no Python step",
        lambda ctx: run_dbt(["build", "--exclude", AFTER_PYTHON_STEPS], dbt_vars=ctx.dbt_vars, target=ctx.target),
    ),
    BuildStep("probabilistic matching of CRM records (Splink)", lambda ctx: match_crm_records(ctx.warehouse)),
    BuildStep(
        "dbt build: models downstream of the Python steps",
        lambda ctx: run_dbt(["build", "--select", AFTER_PYTHON_STEPS], dbt_vars=ctx.dbt_vars, target=ctx.target),
    ),
)


@dataclass
class BuildResult:
    raw_dir: Path
    as_of: datetime
    load: LoadReport
    warehouse: Path


def build(raw_dir: Path | None = None, as_of: datetime | None = None, target: str | None = None) -> BuildResult:
    if raw_dir is None:
        raw_dir = demo_raw_dir()
        as_of = as_of or demo_as_of()
    as_of = as_of or datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    warehouse = warehouse_path()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as conn:
        load = load_raw_dir(conn, Path(raw_dir), raw_contract())
    context = BuildContext(warehouse=warehouse, dbt_vars={"cdp__as_of": as_of.isoformat(sep=" ")}, target=target)
    for step in BUILD_STEPS:
        step.run(context)
    return BuildResult(raw_dir=Path(raw_dir), as_of=as_of, load=load, warehouse=warehouse)
