"""BUILD_STEPS builds every dbt node exactly once, each after the Python steps it needs."""

from __future__ import annotations

import subprocess

from cdp.build import BUILD_STEPS, DbtStep, PythonStep, dbt_build_args
from cdp.dbt_runner import dbt_command, dbt_environment
from cdp.paths import project_dir


def listed(args: list[str]) -> list[str]:
    # `dbt ls` with the same selection flags `cdp build` passes to `dbt build`.
    command = dbt_command(["ls", "--quiet", "--output", "name", *args])
    completed = subprocess.run(command, env=dbt_environment(), cwd=project_dir(), capture_output=True, text=True, check=True)
    return [line for line in completed.stdout.splitlines() if line.strip()]


def test_the_dbt_selections_partition_the_project_in_dependency_order():
    selections = {
        index: listed(dbt_build_args(BUILD_STEPS, index)[1:])
        for index, step in enumerate(BUILD_STEPS)
        if isinstance(step, DbtStep)
    }
    everything = listed([])
    assert sorted(name for names in selections.values() for name in names) == sorted(everything)
    for index, step in enumerate(BUILD_STEPS):
        if isinstance(step, PythonStep):
            downstream = set(listed(["--select", f"source:{step.writes_source}+"]))
            built_before = {name for position, names in selections.items() if position < index for name in names}
            assert downstream, f"nothing reads what {step.name} writes"
            assert not downstream & built_before, f"built before {step.name} ran: {sorted(downstream & built_before)}"
