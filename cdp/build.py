"""`cdp build`: load raw files, build every model, report what happened.

The steps run strictly one after another against the warehouse (DuckDB allows one writer
at a time), all under the project's warehouse lock (cdp.warehouse.warehouse_lock): check
the journeys' configuration (nothing is built when it is wrong), load the raw files, then
the build plan of cdp.steps: activation's tables (migrated before dbt reads them), then
dbt stages with the Python steps in between. Each file's rows and each step are logged
as they start and end; only the loader shows a progress bar (dbt prints its own lines to
the terminal, which a bar redrawn meanwhile would tear).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from activation.progress import NO_PROGRESS, Progress, track

# demo_as_of and parse_as_of are imported from here by the command line and the tests.
from cdp.clock import demo_as_of as demo_as_of
from cdp.clock import parse_as_of as parse_as_of
from cdp.clock import resolve_as_of, utc_now
from cdp.contract import raw_contract
from cdp.dbt_runner import run_dbt
from cdp.erasure import rewrite_after_erasure
from cdp.journeys import validate_journeys
from cdp.paths import demo_raw_dir, warehouse_path
from cdp.progress import dbt_output_flags
from cdp.raw_loader import LoadReport, load_raw_dir
from cdp.steps import DbtStage, PythonStep, StepContext, build_plan, python_steps
from cdp.summary import summary_lines
from cdp.warehouse import open_warehouse, warehouse_lock

log = logging.getLogger(__name__)


@dataclass
class BuildResult:
    raw_dir: Path
    as_of: datetime
    load: LoadReport
    target: str | None
    # The DuckDB file (the Spark target keeps its tables in its own warehouse directory).
    warehouse: Path


def build(
    raw_dir: Path | None = None,
    as_of: datetime | None = None,
    target: str | None = None,
    progress: Progress = NO_PROGRESS,
) -> BuildResult:
    validate_journeys()
    raw_dir = Path(raw_dir) if raw_dir else demo_raw_dir()
    as_of = resolve_as_of(
        as_of, raw_dir, started_at=utc_now(), explicit_source="--as-of", start_source="the build's start"
    ).moment
    warehouse = warehouse_path()
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    # One lock for the whole build, not DuckDB's per connection: dbt and the Python steps
    # connect in turn, and a sync or `cdp explain` between two of them would see
    # half-replaced data.
    with warehouse_lock("cdp build", warehouse):
        writer = open_warehouse(target)
        try:
            load = load_raw_dir(writer, Path(raw_dir), raw_contract(), progress=progress)
        finally:
            writer.close()
        context = StepContext(as_of=as_of, target=target)
        plan = build_plan(python_steps())
        with track("build", len(plan), log, unit="steps", verb="done") as steps_done:
            for number, step in enumerate(steps_done.each(plan), start=1):
                log.info("build step %d of %d: %s", number, len(plan), _describe(step))
                if isinstance(step, DbtStage):
                    run_dbt(
                        ["build", *step.arguments(), *dbt_output_flags()],
                        dbt_vars={"cdp__as_of": as_of.isoformat(sep=" ")},
                        target=target,
                    )
                else:
                    step.run(context)
        if target != "spark":
            rewrite_after_erasure(warehouse)
    return BuildResult(raw_dir=Path(raw_dir), as_of=as_of, load=load, target=target, warehouse=warehouse)


def _describe(step: DbtStage | PythonStep) -> str:
    if not isinstance(step, DbtStage):
        return step.name
    selection = [f"--select {step.select}"] if step.select else []
    selection += [f"--exclude {step.exclude}"] if step.exclude else []
    return " ".join(["dbt build", *selection])


def print_build_report(result: BuildResult) -> None:
    print()
    where = "the Spark warehouse" if result.target == "spark" else result.warehouse
    print(f"Built {where} from {result.raw_dir} as of {result.as_of.isoformat()}Z")
    print(f"Loaded {result.load.rows:,} raw rows from {sum(1 for t in result.load.tables if t.file)} files")
    ignored: dict[str, list[str]] = {}
    for table in result.load.tables:
        for column in table.ignored_columns:
            ignored.setdefault(column, []).append(table.file)
    for column, files in sorted(ignored.items()):
        print(f"  ignored column not in the contract: {column} (in {len(files)} file{'s' if len(files) > 1 else ''})")
    warehouse = open_warehouse(result.target, read_only=True)
    try:
        for line in summary_lines(warehouse):
            print(line)
    finally:
        warehouse.close()
