"""The order of a build: dbt selections with Python steps in between.

Some work is Python because a statistical library does it (probabilistic linkage, the
CLV fit, lift) or because its tables are not dbt's (activation's state). Each Python step
reads models from the warehouse and writes one dbt source (schema and tables declared in
a sources file, source name starting with `cdp_`), so dbt knows which models depend on
it. The dbt selections around the steps follow from that alone: a step that reads no
model runs before any dbt stage; otherwise a dbt stage builds what depends on the
previous step's output and on no later step's output. `cdp build` and the Dagster
definitions both read this list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class StepContext:
    as_of: datetime
    target: str | None


@dataclass(frozen=True)
class PythonStep:
    name: str
    # The dbt source (name in a sources file) this step writes.
    output_source: str
    # The dbt models the step reads: Dagster draws the step's dependencies from them.
    reads: tuple[str, ...]
    run: Callable[[StepContext], None]


@dataclass(frozen=True)
class DbtStage:
    select: str | None
    exclude: str | None

    def arguments(self) -> list[str]:
        # "buildable": a test runs in the stage where the last of its parents is built,
        # so tests across stages run once, after everything they read exists.
        arguments = ["--indirect-selection", "buildable"]
        if self.select:
            arguments += ["--select", self.select]
        if self.exclude:
            arguments += ["--exclude", self.exclude]
        return arguments


# The tables of source cdp_activation that dbt reads.
ACTIVATION_SOURCE_TABLES = ("message_events",)


def prepare_activation_state(target: str | None) -> str:
    """Activation's tables, ready for dbt to read (what `cdp migrate` and the first step of a build do).

    On DuckDB, where activation runs, its migrations (activation.state). The Spark target
    has no activation: dbt reads empty tables with the columns the migrations give them
    (re-created while empty, so they follow new migrations; a table with rows is kept).
    """
    from activation.state import migrate_warehouse, table_schema
    from cdp.paths import warehouse_path
    from cdp.warehouse import open_warehouse

    if target != "spark":
        warehouse_path().parent.mkdir(parents=True, exist_ok=True)
        migrate_warehouse(warehouse_path())
        return f"activation's tables in {warehouse_path()} are migrated"
    warehouse = open_warehouse(target)
    try:
        existing = set(warehouse.tables("activation"))
        empty = {
            table: table_schema(table).empty_table()
            for table in ACTIVATION_SOURCE_TABLES
            if table not in existing or not warehouse.query(f"select count(*) from activation.{table}")[0][0]
        }
        warehouse.replace_tables("activation", empty)
    finally:
        warehouse.close()
    return f"the Spark warehouse has activation's {', '.join(ACTIVATION_SOURCE_TABLES)} for dbt to read"


def _activation_state(context: StepContext) -> None:
    prepare_activation_state(context.target)


def _erasure(context: StepContext) -> None:
    from cdp.erasure import run_erasure_step

    run_erasure_step(as_of=context.as_of, target=context.target)


def _clv_fit(context: StepContext) -> None:
    from cdp.clv.step import run_clv_step

    run_clv_step(as_of=context.as_of, target=context.target)


def _lift(context: StepContext) -> None:
    from cdp.lift import run_lift_step

    run_lift_step(as_of=context.as_of, target=context.target)


def _audiences(context: StepContext) -> None:
    from cdp.audiences import run_audience_step

    run_audience_step(as_of=context.as_of, target=context.target)


def _probabilistic_matching(context: StepContext) -> None:
    from cdp.linkage import match_crm_records
    from cdp.warehouse import open_warehouse

    warehouse = open_warehouse(context.target)
    try:
        match_crm_records(warehouse)
    finally:
        warehouse.close()


def python_steps() -> tuple[PythonStep, ...]:
    """The Python steps, in build order."""
    from cdp.audiences import OUTPUT_SOURCE, audience_step_reads

    return (
        PythonStep(
            "activation's tables (created and migrated by activation, read by dbt)",
            "cdp_activation",
            reads=(),
            run=_activation_state,
        ),
        # Before any dbt stage: every model is then built without the erased persons.
        PythonStep(
            "erasure of the persons in erasure_requests",
            "cdp_privacy",
            reads=(),
            run=_erasure,
        ),
        PythonStep(
            "probabilistic matching of CRM records (Splink)",
            "cdp_linkage",
            reads=("stg_crm__customers",),
            run=_probabilistic_matching,
        ),
        PythonStep(
            "CLV fit (BG/NBD and Gamma-Gamma)",
            "cdp_clv",
            reads=("int_persons_clv_summarized",),
            run=_clv_fit,
        ),
        # Audiences read profiles, which read the CLV fit. Its reads are every
        # aud_ model of dbt's manifest, so a new audience needs no edit here.
        PythonStep(
            "audiences (aud_ models and audiences.yml)",
            OUTPUT_SOURCE,
            reads=audience_step_reads(),
            run=_audiences,
        ),
        # After the audiences: the plan it measures reads them.
        PythonStep(
            "lift of the journeys (statsmodels, scipy)",
            "cdp_lift",
            reads=("int_journey_lift_persons",),
            run=_lift,
        ),
    )


def build_plan(steps: tuple[PythonStep, ...]) -> list[DbtStage | PythonStep]:
    """dbt stages interleaved with ``steps``: stage i builds what needs step i-1's output but no later step's.

    Steps that read no model come first: nothing needs building before them, so their
    output splits no stage.
    """
    plan: list[DbtStage | PythonStep] = [step for step in steps if not step.reads]
    steps = tuple(step for step in steps if step.reads)
    for index in range(len(steps) + 1):
        select = f"source:{steps[index - 1].output_source}+" if index else None
        later = " ".join(f"source:{step.output_source}+" for step in steps[index:])
        plan.append(DbtStage(select=select, exclude=later or None))
        if index < len(steps):
            plan.append(steps[index])
    return plan
