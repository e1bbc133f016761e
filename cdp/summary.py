"""The short report `cdp build` and `make demo` print: what was built and what was not."""

from __future__ import annotations

from cdp.warehouse import Warehouse

LAYERS = ("raw", "staging", "intermediate", "marts")


def summary_lines(warehouse: Warehouse) -> list[str]:
    lines = ["Rows per layer:"]
    for layer in LAYERS:
        # base_ models hold every raw row with its verdict; counting them again would
        # double the staging layer.
        tables = [name for name in warehouse.tables(layer) if not name.startswith("base_")]
        total = sum(warehouse.query(f"select count(*) from {layer}.{table}")[0][0] for table in tables)
        lines.append(f"  {layer:<13}{total:>10,} rows in {len(tables)} tables")
    persons, probabilistic, identifiers = warehouse.query(
        """
        select
            count(distinct person_id),
            count(distinct case when not is_exact_links_only then person_id end),
            count(*)
        from marts.bdg_person_identifiers
        """
    )[0]
    lines.append(
        f"Persons: {persons:,} with {identifiers:,} identifiers ({probabilistic:,} resting on a probabilistic link)"
    )
    for model, status, reason, sample_size in warehouse.query(
        """
        select distinct model, fit_status, fit_status_reason, sample_size
        from marts.fct_clv_model_fits
        order by model
        """
    ):
        outcome = f"fitted on {sample_size:,} customers" if status == "fitted" else f"not fitted: {reason}"
        lines.append(f"CLV model {model}: {outcome}")
    lines.append("Audiences (persons in each now):")
    rows = warehouse.query(
        """
        select audience_name, count(*)
        from marts.fct_audience_memberships
        group by audience_name
        order by audience_name
        """
    )
    lines += [f"  {audience:<24}{count:>6,}" for audience, count in rows] or ["  none"]
    lines.append("Message plan (planned by channel, suppressed by reason):")
    rows = warehouse.query(
        """
        select journey, status, coalesce(suppression_reason, channel) as detail, count(*)
        from marts.fct_message_plan
        group by journey, status, coalesce(suppression_reason, channel)
        order by journey, status, detail
        """
    )
    lines += [f"  {journey:<24}{status:<12}{detail:<22}{count:>6,}" for journey, status, detail, count in rows] or ["  none"]
    lines.append("Quarantined rows by reason:")
    rows = warehouse.query(
        """
        select source_table, reason, action, count(*)
        from marts.fct_quarantined_rows
        group by source_table, reason, action
        order by source_table, reason, action
        """
    )
    lines += [f"  {table:<20}{reason:<30}{action:<18}{count:>6,}" for table, reason, action, count in rows] or ["  none"]
    return lines
