"""`cdp build`: load raw files, build every model, report what happened.

The steps run strictly one after another against the warehouse (DuckDB allows one writer
at a time): load the raw files, then the build plan of cdp.steps, dbt stages with the
Python steps in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from cdp.contract import raw_contract
from cdp.dbt_runner import run_dbt
from cdp.paths import demo_raw_dir, warehouse_path
from cdp.raw_loader import LoadReport, load_raw_dir
from cdp.steps import DbtStage, StepContext, build_plan, python_steps
from cdp.warehouse import open_warehouse


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


@dataclass
class BuildResult:
    raw_dir: Path
    as_of: datetime
    load: LoadReport
    target: str | None
    # The DuckDB file (the Spark target keeps its tables in its own warehouse directory).
    warehouse: Path


def build(raw_dir: Path | None = None, as_of: datetime | None = None, target: str | None = None) -> BuildResult:
    if raw_dir is None:
        raw_dir = demo_raw_dir()
        as_of = as_of or demo_as_of()
    as_of = as_of or datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    warehouse = warehouse_path()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    writer = open_warehouse(target)
    try:
        load = load_raw_dir(writer, Path(raw_dir), raw_contract())
    finally:
        writer.close()
    context = StepContext(as_of=as_of, target=target)
    for step in build_plan(python_steps()):
        if isinstance(step, DbtStage):
            run_dbt(["build", *step.arguments()], dbt_vars={"cdp__as_of": as_of.isoformat(sep=" ")}, target=target)
        else:
            step.run(context)
    return BuildResult(raw_dir=Path(raw_dir), as_of=as_of, load=load, target=target, warehouse=warehouse)
