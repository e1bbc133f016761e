"""A Dagster run's "now": cdp.clock's rule, given the run's tag and creation time.

Every asset of a run asks `run_as_of` and gets the same answer, and the run says which
moment it used and why in two tags of its own, which the UI shows on the run's page;
each asset also records it in its metadata.
"""

from __future__ import annotations

from typing import Any

from dagster import AssetExecutionContext, MetadataValue, OpExecutionContext

from cdp.clock import AsOf, resolve_as_of, utc_now
from orchestration.settings import raw_dir

# Set it when launching a run (Launchpad > Tags, or a schedule's tags) to fix "now" for
# every asset of the run, as `cdp build --as-of` does.
AS_OF_TAG = "cdp/as_of"
# Written by the run: the moment it used, and the rule that chose it.
AS_OF_USED_TAG = "cdp/as_of_used"
AS_OF_RULE_TAG = "cdp/as_of_rule"


def run_as_of(context: AssetExecutionContext | OpExecutionContext) -> AsOf:
    record = context.instance.get_run_record_by_id(context.run_id)
    created = record.create_timestamp if record else utc_now()
    as_of = resolve_as_of(
        context.run.tags.get(AS_OF_TAG),
        raw_dir(),
        created,
        explicit_source=f"run tag {AS_OF_TAG}",
        start_source="the run's creation time",
    )
    context.instance.add_run_tags(
        context.run_id,
        {AS_OF_USED_TAG: f"{as_of.moment.isoformat()}Z", AS_OF_RULE_TAG: f"{as_of.rule}: {as_of.source}"},
    )
    return as_of


def as_of_metadata(as_of: AsOf) -> dict[str, Any]:
    return {"cdp/as_of": MetadataValue.text(as_of.describe())}
