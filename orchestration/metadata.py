"""What the operator sees on a table asset: its row count, and for the tables an
operator watches, the figures that matter there (persons and merges, audience sizes,
messages planned and suppressed). Counts and names of configured things only: never a
value from a row.

Numbers are logged as numeric metadata, so each one is plotted over time on the asset's
Plots tab.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dagster import MetadataValue

from activation.channels import read_channels
from cdp.audiences import all_audiences
from cdp.journeys import configured_journeys
from cdp.paths import project_dir
from cdp.warehouse import Warehouse
from orchestration.project import accepted_values, manifest

# Dagster's own key: shown as "Row count" in the catalog.
ROW_COUNT = "dagster/row_count"
AUDIENCE_SIZE = "audience size: "
PLANNED_CHANNEL = "planned on channel: "
PLANNED_JOURNEY = "planned in journey: "
SUPPRESSED_REASON = "suppressed because: "


def table_metadata(warehouse: Warehouse, schema: str, table: str) -> dict[str, Any]:
    (rows,) = warehouse.query(f"select count(*) from {schema}.{table}")[0]
    metadata: dict[str, Any] = {ROW_COUNT: MetadataValue.int(int(rows))}
    figures = FIGURES.get(table)
    if figures:
        metadata |= {name: MetadataValue.int(int(value)) for name, value in figures(warehouse).items()}
    return metadata


def identity_figures(warehouse: Warehouse) -> dict[str, int]:
    persons, identifiers, probabilistic = warehouse.query(
        """
        select count(distinct person_id), count(*),
               count(distinct case when not is_exact_links_only then person_id end)
        from marts.bdg_person_identifiers
        """
    )[0]
    (merges,) = warehouse.query("select count(*) from marts.fct_person_merges")[0]
    return {
        "persons": persons,
        "identifiers": identifiers,
        "persons resting on a probabilistic link": probabilistic,
        "merges": merges,
    }


def audience_figures(warehouse: Warehouse) -> dict[str, int]:
    return {f"{AUDIENCE_SIZE}{name}": size for name, size in audience_sizes(warehouse).items()}


def audience_sizes(warehouse: Warehouse) -> dict[str, int]:
    """Persons per audience, every audience the project defines (an empty one is 0, not missing)."""
    sizes = dict(
        warehouse.query("select audience_name, count(*) from marts.fct_audience_memberships group by audience_name")
    )
    names = sorted(audience.name for audience in all_audiences(manifest()))
    return {name: int(sizes.get(name, 0)) for name in names}


def plan_figures(warehouse: Warehouse) -> dict[str, int]:
    rows = warehouse.query(
        """
        select status, channel, journey, suppression_reason, count(*)
        from marts.fct_message_plan
        group by status, channel, journey, suppression_reason
        """
    )
    planned = [(channel, journey, count) for status, channel, journey, _, count in rows if status == "planned"]
    figures = {}
    for channel in read_channels(project_dir() / "dbt_project.yml").names:
        figures[f"{PLANNED_CHANNEL}{channel}"] = sum(n for c, _, n in planned if c == channel)
    for journey in (journey.journey for journey in configured_journeys()):
        figures[f"{PLANNED_JOURNEY}{journey}"] = sum(n for _, j, n in planned if j == journey)
    for reason in accepted_values("fct_message_plan", "suppression_reason"):
        figures[f"{SUPPRESSED_REASON}{reason}"] = sum(n for s, _, _, r, n in rows if s == "suppressed" and r == reason)
    return figures


# The tables with figures beyond their row count, by model name.
FIGURES: dict[str, Callable[[Warehouse], dict[str, int]]] = {
    "bdg_person_identifiers": identity_figures,
    "fct_audience_memberships": audience_figures,
    "fct_message_plan": plan_figures,
}
