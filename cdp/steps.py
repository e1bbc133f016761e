"""The order of a build: dbt selections with Python steps in between.

Some work is Python because a statistical library does it (probabilistic linkage, the
CLV fit). Each Python step reads models from the warehouse and writes one dbt source
(schema and tables declared in a sources file, source name starting with `cdp_`), so
dbt knows which models depend on it. The dbt selections around the steps follow from
that alone: a dbt stage builds what depends on the previous step's output and on no
later step's output. `cdp build` and the Dagster definitions both read this list.
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
    from cdp.clv.step import run_clv_step

    return (
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
            run=run_clv_step,
        ),
    )


def build_plan(steps: tuple[PythonStep, ...]) -> list[DbtStage | PythonStep]:
    """dbt stages interleaved with ``steps``: stage i builds what needs step i-1's output but no later step's."""
    plan: list[DbtStage | PythonStep] = []
    for index in range(len(steps) + 1):
        select = f"source:{steps[index - 1].output_source}+" if index else None
        later = " ".join(f"source:{step.output_source}+" for step in steps[index:])
        plan.append(DbtStage(select=select, exclude=later or None))
        if index < len(steps):
            plan.append(steps[index])
    return plan
