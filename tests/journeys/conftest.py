"""Fixtures for the plan's tests: the plan compiled once per set of vars, run on fixture inputs."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from cdp.project_vars import project_var

# The activation tests' fixtures (a warehouse with a fixture plan, the stand-in, demo secrets), for the plan-age tests.
from tests.activation.conftest import secrets, standin, warehouse  # noqa: F401
from tests.journeys.plan_harness import PlanInputs, PlanResult, compile_plan, hash_bucket, run_plan


@pytest.fixture(scope="session")
def compiled_plan(tmp_path_factory) -> Callable[..., dict[str, str]]:
    """The plan models' SQL for a set of vars, compiled by dbt once per set."""
    cache: dict[str, dict[str, str]] = {}

    def compiled(**dbt_vars) -> dict[str, str]:
        key = json.dumps(dbt_vars, sort_keys=True)
        if key not in cache:
            workspace = tmp_path_factory.mktemp("plan-compile")
            cache[key] = compile_plan(workspace / "target", workspace / "cdp.duckdb", dbt_vars)
        return cache[key]

    return compiled


@pytest.fixture(scope="session")
def plan(compiled_plan, demo_warehouse) -> Callable[..., PlanResult]:
    """Run the plan on inputs; the demo warehouse gives the input tables their column types."""

    def run(inputs: PlanInputs, **dbt_vars) -> PlanResult:
        return run_plan(compiled_plan(**dbt_vars), demo_warehouse, inputs)

    return run


def person_id(prefix: str, *, global_control: bool = False, held_out_of: tuple[str, ...] = ()) -> str:
    """A person id whose holdout buckets (computed here as the plan documents them) put it in the
    global control group or not, and in the holdout of exactly the journeys `held_out_of`."""
    salt = project_var("cdp__holdout_salt")
    global_limit = round(project_var("cdp__global_control_share") * 10000)
    default_share = project_var("cdp__journey_holdout_share")
    limits = {j["journey"]: round(j.get("holdout_share", default_share) * 10000) for j in project_var("cdp__journeys")}
    for number in range(100_000):
        candidate = f"{prefix}_{number}"
        if (hash_bucket(f"{salt}|global|{candidate}") < global_limit) != global_control:
            continue
        if all(
            (hash_bucket(f"{salt}|{journey}|{candidate}") < limit) == (journey in held_out_of)
            for journey, limit in limits.items()
        ):
            return candidate
    raise AssertionError(f"no person id for {prefix} with those buckets")


@pytest.fixture
def inputs() -> PlanInputs:
    """Inputs whose every source table is fresh."""
    fresh = PlanInputs()
    fresh.fresh_sources()
    return fresh
