"""The build plan builds every dbt node of this project exactly once, each after the
Python steps whose output it reads (checked with `dbt ls` on the real project)."""

from __future__ import annotations

import subprocess

from cdp.dbt_runner import dbt_command, dbt_environment
from cdp.paths import project_dir
from cdp.steps import DbtStage, PythonStep, build_plan, python_steps


def listed(args: list[str]) -> list[str]:
    command = dbt_command(["ls", "--quiet", "--output", "name", *args])
    completed = subprocess.run(
        command, env=dbt_environment(), cwd=project_dir(), capture_output=True, text=True, check=True
    )
    return [line for line in completed.stdout.splitlines() if line.strip()]


def test_the_dbt_stages_partition_the_project_in_dependency_order():
    plan = build_plan(python_steps())
    stages = {index: listed(step.arguments()) for index, step in enumerate(plan) if isinstance(step, DbtStage)}
    assert sorted(name for names in stages.values() for name in names) == sorted(listed([]))
    for index, step in enumerate(plan):
        if isinstance(step, PythonStep):
            downstream = set(listed(["--select", f"source:{step.output_source}+"]))
            built_before = {name for position, names in stages.items() if position < index for name in names}
            assert downstream, f"nothing reads what {step.name} writes"
            assert not downstream & built_before, f"built before {step.name} ran: {sorted(downstream & built_before)}"
