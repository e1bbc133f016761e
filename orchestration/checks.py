"""The quality suites of orchestration/quality.py as blocking asset checks.

Each check reads just the columns its suite needs from the warehouse (read-only, after
its table was built) and fails with ERROR severity when an expectation does not hold. A
blocking check that fails stops, in its run, every sync downstream of its table (each
sync asset depends on the checked tables it reads through), and the sync assets also
refuse to run on demand while the latest evaluation of such a check failed
(orchestration/syncs.py). The metadata names each expectation with its failing rows;
it never holds a value from a row.
"""

from typing import Any

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    DagsterInstance,
    MetadataValue,
    asset_check,
)

from activation.channels import read_channels
from cdp.paths import project_dir
from cdp.project_vars import project_var
from cdp.warehouse import open_warehouse
from orchestration.dbt import model_asset_key
from orchestration.locking import WarehouseLock
from orchestration.metadata import AUDIENCE_SIZE, audience_sizes
from orchestration.project import accepted_values, model_columns, pii_columns
from orchestration.quality import (
    FrequencyCap,
    SizeBounds,
    SuiteOutcome,
    audience_size_expectations,
    audience_size_frame,
    frequency_cap_expectations,
    person_expectations,
    plan_expectations,
    promotional_messages_per_person,
    run_expectations,
)
from orchestration.settings import WAREHOUSE_POOL, dbt_target

PERSONS = "dim_persons"
AUDIENCES = "fct_audience_memberships"
PLAN = "fct_message_plan"


def read_table(table: str, columns: list[str]) -> pd.DataFrame:
    warehouse = open_warehouse(dbt_target(), read_only=True)
    try:
        rows = warehouse.query(f"select {', '.join(columns)} from {table}")
    finally:
        warehouse.close()
    return pd.DataFrame(rows, columns=columns)


def check_result(outcome: SuiteOutcome, extra: dict[str, Any] | None = None) -> AssetCheckResult:
    metadata: dict[str, Any] = {
        "expectations": MetadataValue.int(len(outcome.outcomes)),
        "expectations failed": MetadataValue.int(len(outcome.failed)),
    }
    for result in outcome.outcomes:
        if result.error:
            verdict = f"could not be checked: {result.error}"
        elif result.passed:
            verdict = f"holds on {result.rows_checked:,} rows"
        else:
            verdict = f"FAILS on {result.failing_rows:,} of {result.rows_checked:,} rows"
        metadata[result.description] = MetadataValue.text(verdict)
    for index, note in enumerate(outcome.notes, 1):
        metadata[f"not checked ({index})"] = MetadataValue.text(note)
    metadata |= extra or {}
    failed = "; ".join(f"{r.description}: {r.failing_rows:,} rows" for r in outcome.failed)
    return AssetCheckResult(
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR,
        metadata=metadata,
        description=f"failed: {failed}" if failed else None,
    )


def consent_columns() -> list[str]:
    """The consent flags of the channel registry (var cdp__channels) that dim_persons holds."""
    held = set(model_columns(PERSONS))
    registry = read_channels(project_dir() / "dbt_project.yml")
    named = [column for c in registry.channels for column in (c.consent_column, c.transactional_consent_column)]
    return [column for column in named if column in held]


@asset_check(
    asset=model_asset_key(PERSONS),
    name="persons_are_contactable_and_lawful",
    description=(
        "Great Expectations on dim_persons: e-mails valid, phones in E.164, every consent flag of the "
        "channel registry true or false, and no erased person with any column tagged pii."
    ),
    blocking=True,
    pool=WAREHOUSE_POOL,
)
def persons_suite(context: AssetCheckExecutionContext, warehouse_lock: WarehouseLock) -> AssetCheckResult:
    consents, personal = consent_columns(), pii_columns(PERSONS)
    frame = read_table(f"marts.{PERSONS}", list(dict.fromkeys(["is_erased", "email", "phone", *consents, *personal])))
    outcome = SuiteOutcome(PERSONS, run_expectations(frame, person_expectations(consents, personal), PERSONS))
    return check_result(outcome, {"persons": MetadataValue.int(len(frame))})


def size_bounds() -> SizeBounds:
    return SizeBounds(
        max_change_share=float(project_var("cdp__audience_size_max_change_share")),
        change_floor=int(project_var("cdp__audience_size_change_floor")),
    )


def previous_audience_sizes(instance: DagsterInstance, key: AssetKey, run_id: str) -> dict[str, int] | None:
    """The audience sizes recorded by the latest materialisation of ``key`` in another run."""
    for record in instance.fetch_materializations(key, limit=20).records:
        if record.run_id == run_id or record.asset_materialization is None:
            continue
        metadata = record.asset_materialization.metadata
        sizes = {
            name[len(AUDIENCE_SIZE) :]: int(v.value) for name, v in metadata.items() if name.startswith(AUDIENCE_SIZE)
        }
        if sizes:
            return sizes
    return None


@asset_check(
    asset=model_asset_key(AUDIENCES),
    name="audience_sizes_within_bounds",
    description=(
        "Great Expectations on the audiences: each audience's size changed since the last run by at most "
        "cdp__audience_size_max_change_share of it, or cdp__audience_size_change_floor persons."
    ),
    blocking=True,
    pool=WAREHOUSE_POOL,
)
def audience_sizes_suite(context: AssetCheckExecutionContext, warehouse_lock: WarehouseLock) -> AssetCheckResult:
    warehouse = open_warehouse(dbt_target(), read_only=True)
    try:
        current = audience_sizes(warehouse)
    finally:
        warehouse.close()
    previous = previous_audience_sizes(context.instance, model_asset_key(AUDIENCES), context.run.run_id)
    bounds = size_bounds()
    outcome = SuiteOutcome(AUDIENCES)
    if previous is None:
        outcome.notes.append("no earlier run recorded audience sizes: this run's sizes are the baseline")
    frame = audience_size_frame(current, previous or {}, bounds)
    outcome.outcomes += run_expectations(frame, audience_size_expectations(bounds), AUDIENCES)
    outside = frame[frame["change"] > frame["allowed_change"]]
    extra = {
        f"previous size: {row.audience_name}": MetadataValue.int(int(row.previous_size)) for row in outside.itertuples()
    }
    if not outside.empty:
        extra["audiences outside their bounds"] = MetadataValue.text(", ".join(outside["audience_name"]))
    return check_result(outcome, extra)


def frequency_cap() -> FrequencyCap:
    """The plan's promotional cap (vars cdp__frequency_cap_per_day and _per_week)."""
    return FrequencyCap(
        per_day=int(project_var("cdp__frequency_cap_per_day")),
        per_week=int(project_var("cdp__frequency_cap_per_week")),
    )


@asset_check(
    asset=model_asset_key(PLAN),
    name="plan_suppressions_explained",
    description=(
        "Great Expectations on the message plan: every suppressed message has a reason from the closed list "
        "of fct_message_plan.suppression_reason, and no person has more planned promotional messages on a "
        "local day or in a local calendar week than cdp__frequency_cap_per_day and _per_week allow."
    ),
    blocking=True,
    pool=WAREHOUSE_POOL,
)
def plan_suite(context: AssetCheckExecutionContext, warehouse_lock: WarehouseLock) -> AssetCheckResult:
    cap = frequency_cap()
    columns = ["person_id", "status", "suppression_reason", "send_after", "purpose", "time_zone"]
    frame = read_table(f"marts.{PLAN}", columns)
    outcome = SuiteOutcome(
        PLAN, run_expectations(frame, plan_expectations(accepted_values(PLAN, "suppression_reason")), PLAN)
    )
    per_person = promotional_messages_per_person(frame)
    outcome.outcomes += run_expectations(per_person, frequency_cap_expectations(cap), f"{PLAN}_per_person")
    return check_result(outcome, {"messages": MetadataValue.int(len(frame))})


quality_checks: list[AssetChecksDefinition] = [persons_suite, audience_sizes_suite, plan_suite]


def blocking_check_keys() -> list[AssetCheckKey]:
    return [key for check in quality_checks for key in check.check_keys]
