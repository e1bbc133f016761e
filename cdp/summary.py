"""The short report `cdp build` and `make demo` print: what was built and what was not."""

from __future__ import annotations

from cdp.erasure import summary_lines as erasure_lines
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
    lines += matching_model_lines(warehouse)
    for model, status, reason, sample_size in warehouse.query(
        """
        select distinct model, fit_status, fit_status_reason, sample_size
        from marts.fct_clv_model_fits
        order by model
        """
    ):
        outcome = f"fitted on {sample_size:,} customers" if status == "fitted" else f"not fitted: {reason}"
        lines.append(f"CLV model {model}: {outcome}")
    lines += lift_lines(warehouse)
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
    lines += [f"  {journey:<24}{status:<12}{detail:<22}{count:>6,}" for journey, status, detail, count in rows] or [
        "  none"
    ]
    lines.append("Quarantined rows by reason:")
    rows = warehouse.query(
        """
        select source_table, reason, action, count(*)
        from marts.fct_quarantined_rows
        group by source_table, reason, action
        order by source_table, reason, action
        """
    )
    lines += [f"  {table:<20}{reason:<30}{action:<18}{count:>6,}" for table, reason, action, count in rows] or [
        "  none"
    ]
    return lines + erasure_lines(warehouse)


def matching_model_lines(warehouse: Warehouse) -> list[str]:
    """Which parameters of the probabilistic matching model were estimated on the CRM and which are priors."""
    rows = warehouse.query(
        """
        select
            fit_status,
            fit_status_reason,
            record_count,
            u_sample_pairs,
            em_training_runs,
            probability_source,
            count(case when not is_null_level then 1 end),
            count(case when m_source = 'prior' then 1 end),
            count(case when u_source = 'prior' then 1 end),
            count(case when u_source = 'none_in_random_sample' then 1 end)
        from marts.fct_identity_match_model_fits
        group by fit_status, fit_status_reason, record_count, u_sample_pairs, em_training_runs, probability_source
        """
    )
    if not rows:
        return ["Matching model (Splink): not run"]
    status, reason, records, u_pairs, em_runs, probability_source, levels, m_priors, u_priors, u_unseen = rows[0]
    if status != "trained":
        return [f"Matching model (Splink): priors for all {levels} levels ({reason})"]
    return [
        f"Matching model (Splink): estimated on {records:,} CRM records: u by random sampling of {u_pairs:,} pairs"
        f" ({u_unseen} levels in no sampled pair: u = 1 / pairs), m by EM in {em_runs} training runs, match share"
        f" from {probability_source.replace('_', '-')}; priors kept for {m_priors} m and {u_priors} u of {levels}"
        " levels (not seen in the data)"
    ]


def lift_lines(warehouse: Warehouse) -> list[str]:
    """Per journey, and for the global control group, the lift step's sizes and conversion difference."""
    lines = ["Lift (treated against held out; conversion difference with its 95 % interval):"]
    for journey, status, treated, held_out, difference, lower, upper, mismatch in warehouse.query(
        """
        select
            coalesce(journey, 'all promotional (global control)'), status, treated_persons, held_out_persons,
            conversion_rate_difference, conversion_rate_difference_lower, conversion_rate_difference_upper,
            has_sample_ratio_mismatch
        from marts.fct_journey_lift
        order by comparison desc, journey
        """
    ):
        outcome = (
            f"{difference:+.3f} [{lower:+.3f}, {upper:+.3f}]" if status == "measured" else status.replace("_", " ")
        )
        flag = "  sample-ratio mismatch" if mismatch else ""
        lines.append(f"  {journey:<34}{treated:>6,} vs {held_out:>6,}  {outcome}{flag}")
    return lines if len(lines) > 1 else [*lines, "  not measured yet"]
