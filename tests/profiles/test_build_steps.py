"""BUILD_STEPS builds every dbt node exactly once across its selections."""

from __future__ import annotations

import subprocess

from cdp.build import BUILD_STEPS, DbtStep, dbt_build_args
from cdp.dbt_runner import dbt_command, dbt_environment
from cdp.paths import project_dir


def listed(args: list[str]) -> list[str]:
    # `dbt ls` with the same selection flags `cdp build` passes to `dbt build`.
    command = dbt_command(["ls", "--quiet", "--output", "name", *args])
    completed = subprocess.run(command, env=dbt_environment(), cwd=project_dir(), capture_output=True, text=True, check=True)
    return [line for line in completed.stdout.splitlines() if line.strip()]


def test_the_dbt_selections_partition_the_project():
    dbt_steps = [step for step in BUILD_STEPS if isinstance(step, DbtStep)]
    assert dbt_steps[-1].select is None, "the last dbt step must build whatever is left"
    selected = []
    for index, step in enumerate(dbt_steps):
        selected += listed(dbt_build_args(step, dbt_steps[:index])[1:])
    everything = listed([])
    assert sorted(selected) == sorted(everything)
