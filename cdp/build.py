"""`cdp build`: load raw files, build every model, report what happened.

The steps run strictly one after another against the warehouse (DuckDB allows one
writer at a time): load the raw files, then BUILD_STEPS in order. BUILD_STEPS is the one
place that says which dbt selection runs before which Python step (linkage, model fits);
the Dagster definitions reuse it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from cdp.clv.step import run_clv_step
from cdp.contract import raw_contract
from cdp.dbt_runner import run_dbt
from cdp.paths import demo_raw_dir, warehouse_path
from cdp.raw_loader import LoadReport, load_raw_dir
from cdp.warehouse import Warehouse, open_warehouse


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


@dataclass(frozen=True)
class DbtStep:
    """`dbt build` of the models whose turn it is: downstream of the last Python step
    before it, and not downstream of any Python step after it."""

    name: str


@dataclass(frozen=True)
class PythonStep:
    """A Python function that reads and writes the warehouse between dbt selections. Its
    output tables are the dbt source ``writes_source``; what it returns has ``lines()``
    for the build report."""

    name: str
    writes_source: str
    run: Callable[[Warehouse, datetime], object]


BUILD_STEPS: tuple[DbtStep | PythonStep, ...] = (
    DbtStep("staging and everything else that needs no Python step"),
    PythonStep("CLV fit (BG/NBD and Gamma-Gamma)", "cdp_clv", run_clv_step),
    DbtStep("models downstream of the CLV fit"),
)


def dbt_build_args(steps: tuple[DbtStep | PythonStep, ...], index: int) -> list[str]:
    """`dbt build` arguments for the DbtStep at ``steps[index]``.

    Cautious indirect selection: a test runs in the step that builds the last of its
    parents, so a relationship test across two steps runs once, when both exist.
    """
    earlier = [step for step in steps[:index] if isinstance(step, PythonStep)]
    later = [step for step in steps[index + 1 :] if isinstance(step, PythonStep)]
    args = ["build", "--indirect-selection", "cautious"]
    if earlier:
        args += ["--select", f"source:{earlier[-1].writes_source}+"]
    if later:
        args += ["--exclude", *(f"source:{step.writes_source}+" for step in later)]
    return args


def run_build_steps(as_of: datetime, target: str | None = None, steps=BUILD_STEPS) -> list[str]:
    """Run ``steps`` in order; return the Python steps' report lines."""
    reports: list[str] = []
    for index, step in enumerate(steps):
        if isinstance(step, DbtStep):
            run_dbt(dbt_build_args(steps, index), dbt_vars={"cdp__as_of": as_of.isoformat(sep=" ")}, target=target)
            continue
        # Opened per step and closed before dbt runs again: one writer at a time.
        warehouse = open_warehouse(target)
        try:
            reports += step.run(warehouse, as_of).lines()
        finally:
            warehouse.close()
    return reports


@dataclass
class BuildResult:
    raw_dir: Path
    as_of: datetime
    load: LoadReport
    target: str | None
    # The DuckDB file (the Spark target keeps its tables in its own warehouse directory).
    warehouse: Path
    step_reports: list[str] = field(default_factory=list)


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
    step_reports = run_build_steps(as_of, target)
    return BuildResult(
        raw_dir=Path(raw_dir), as_of=as_of, load=load, target=target, warehouse=warehouse, step_reports=step_reports
    )
