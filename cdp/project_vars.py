"""The `cdp__*` vars of dbt_project.yml, for the Python steps that run between dbt
selections, so that one setting (say the CLV horizon) is configured in one place."""

from __future__ import annotations

from functools import cache

import yaml

from cdp.paths import project_dir


@cache
def _project_vars() -> dict:
    return yaml.safe_load((project_dir() / "dbt_project.yml").read_text()).get("vars", {}) or {}


def project_var(name: str):
    """The default value of ``name`` in dbt_project.yml; a missing var is an error."""
    variables = _project_vars()
    if name not in variables:
        raise KeyError(f"var {name} is not defined in dbt_project.yml")
    return variables[name]
