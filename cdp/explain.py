"""`cdp explain ID`: why a person is who they are.

The subject is a person_id or any identifier (an e-mail, a phone in any format, a CRM
id, a loyalty card...). The report is a list of sections, each a function of the open
warehouse connection and the resolved subject; later areas (audiences, messages) add
theirs to `SECTIONS`. It is printed for the operator who asked and never logged: it
shows personal data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from activation.channels import read_channels
from activation.state import StateStore
from cdp.paths import project_dir
from cdp.phones import to_e164


class SubjectNotFound(ValueError):
    """Nothing in the warehouse matches the id given to `cdp explain`."""


@dataclass(frozen=True)
class Subject:
    query: str
    person_id: str | None
    # Set when the query is an identifier that is kept out of the graph (junk, hub).
    excluded_node_key: str | None = None


@dataclass(frozen=True)
class Section:
    title: str
    lines: list[str]


SectionBuilder = Callable[[duckdb.DuckDBPyConnection, Subject], Section | None]


def _candidate_values(text: str, default_region: str) -> list[str]:
    raw = text.strip()
    values = [raw, raw.lower()]
    phone = to_e164(raw, default_region)
    if phone:
        values.append(phone)
    return list(dict.fromkeys(values))


def resolve(conn: duckdb.DuckDBPyConnection, text: str, default_region: str = "GB") -> Subject:
    """The person (or excluded identifier) that `text` names."""
    text = text.strip()
    found = conn.execute("select 1 from marts.bdg_person_identifiers where person_id = ? limit 1", [text]).fetchone()
    if found:
        return Subject(text, text)
    merged = conn.execute(
        "select winner_person_id from marts.fct_person_merges where loser_person_id = ?", [text]
    ).fetchone()
    if merged:
        return Subject(text, merged[0])
    values = _candidate_values(text, default_region)
    placeholders = ", ".join("?" for _ in values)
    rows = conn.execute(
        f"select distinct person_id from marts.bdg_person_identifiers where identifier_value in ({placeholders})",
        values,
    ).fetchall()
    if len(rows) == 1:
        return Subject(text, rows[0][0])
    if len(rows) > 1:
        raise SubjectNotFound(f"{len(rows)} persons have an identifier with this value; give the person_id instead")
    excluded = conn.execute(
        "select node_key from intermediate.int_identity_identifiers "
        f"where exclusion_reason is not null and identifier_value in ({placeholders}) limit 1",
        values,
    ).fetchone()
    if excluded:
        return Subject(text, None, excluded[0])
    raise SubjectNotFound("no person and no identifier with this value in the warehouse")


def _table(rows: list[tuple], headers: tuple[str, ...]) -> list[str]:
    text_rows = [tuple("" if value is None else str(value) for value in row) for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in text_rows]
    return lines


def person_section(conn, subject: Subject) -> Section | None:
    if subject.person_id is None:
        return None
    row = conn.execute(
        """select person_id, first_name, last_name, email, phone, is_exact_links_only, identifier_count,
            first_seen_at, last_seen_at
           from intermediate.int_persons_golden_records where person_id = ?""",
        [subject.person_id],
    ).fetchone()
    lines = [
        f"person_id: {subject.person_id}"
        + (f" (asked for {subject.query})" if subject.query != subject.person_id else "")
    ]
    if row:
        lines += [
            f"name: {row[1] or ''} {row[2] or ''}".rstrip(),
            f"golden e-mail: {row[3] or '-'}, golden phone: {row[4] or '-'}",
            f"rests on exact links only: {'yes' if row[5] else 'no (a probabilistic match joins it)'}",
            f"{row[6]} identifiers, seen {row[7]} to {row[8]}",
        ]
    return Section("Person", lines)


def identifiers_section(conn, subject: Subject) -> Section | None:
    if subject.person_id is None:
        return None
    rows = conn.execute(
        """select identifier_type, identifier_value, first_seen_at, last_seen_at, observation_count
           from marts.bdg_person_identifiers where person_id = ? order by identifier_type, identifier_value""",
        [subject.person_id],
    ).fetchall()
    return Section("Identifiers", _table(rows, ("type", "value", "first seen", "last seen", "rows")))


def _person_nodes_sql() -> str:
    return """select c.node_key from intermediate.int_identity_clusters c
              join marts.bdg_person_identifiers b on b.identifier_type = c.identifier_type
                  and b.identifier_value = c.identifier_value
              where b.person_id = ?"""


def links_section(conn, subject: Subject) -> Section | None:
    if subject.person_id is None:
        return None
    rows = conn.execute(
        f"""with nodes as ({_person_nodes_sql()})
            select o.identifier_type_a || ' ' || o.identifier_value_a,
                o.identifier_type_b || ' ' || o.identifier_value_b,
                   e.source_model, e.row_count, e.example_source_key, o.link_priority
            from intermediate.int_identity_link_outcomes o
            join intermediate.int_identity_link_evidence e on e.link_id = o.link_id
            where o.is_accepted and o.node_key_a in (select node_key from nodes)
            order by o.link_rank, e.source_model""",
        [subject.person_id],
    ).fetchall()
    probabilistic = conn.execute(
        f"""with nodes as ({_person_nodes_sql()})
            select node_key_a, node_key_b, match_probability, match_weight, accepted_as
            from intermediate.int_identity_probabilistic_links
            where is_accepted and (node_key_a in (select node_key from nodes) or node_key_b in (select node_key
                from nodes))
            order by node_key_a, node_key_b""",
        [subject.person_id],
    ).fetchall()
    lines = _table(rows, ("identifier", "linked to", "source", "rows", "e.g. row key", "priority"))
    for node_a, node_b, probability, weight, accepted_as in probabilistic:
        lines.append(
            f"probabilistic match (Splink): {node_a} ~ {node_b}, match probability {probability:.6f}"
            f" (match weight {weight:+.2f} bits), accepted as {accepted_as.replace('_', ' ')}"
        )
        comparisons = [_prior_weight(conn), *_match_comparisons(conn, node_a, node_b)]
        lines += [f"  {line}" for line in _table(comparisons, ("field", "level", "weight"))]
    return Section("Links that make the person (source rows carrying both identifiers)", lines)


def _prior_weight(conn) -> tuple:
    """The share of matching pairs as a weight: with the comparisons' weights it sums to the match weight."""
    (share,) = conn.execute(
        "select max(probability_two_random_records_match) from marts.fct_identity_match_model_fits"
    ).fetchone()
    return ("prior", f"1 in {1 / share:,.0f} record pairs is a match", f"{math.log2(share / (1 - share)):+.2f}")


def _match_comparisons(conn, node_a: str, node_b: str) -> list[tuple]:
    """Each comparison's level and match weight for the CRM record pair behind a probabilistic link."""
    crm_a, crm_b = (node.split(":", 1)[1] for node in (node_a, node_b))
    rows = conn.execute(
        """select comparison_name, level_label, match_weight
           from linkage.identity_match_pair_comparisons
           where (crm_customer_id_l = ? and crm_customer_id_r = ?) or (crm_customer_id_l = ? and crm_customer_id_r = ?)
           order by comparison_name""",
        [crm_a, crm_b, crm_b, crm_a],
    ).fetchall()
    return [(name, label, f"{weight:+.2f}") for name, label, weight in rows]


def dropped_section(conn, subject: Subject) -> Section | None:
    if subject.person_id is None:
        return None
    params = [subject.person_id]
    dropped = conn.execute(
        f"""with nodes as ({_person_nodes_sql()})
            select identifier_type_a || ' ' || identifier_value_a, identifier_type_b || ' ' || identifier_value_b,
                drop_reason, drop_detail
            from intermediate.int_identity_link_outcomes
            where not is_accepted
                and (node_key_a in (select node_key from nodes) or node_key_b in (select node_key from nodes))
            order by link_rank""",
        params,
    ).fetchall()
    rejected_matches = conn.execute(
        f"""with nodes as ({_person_nodes_sql()})
            select node_key_a, node_key_b, round(match_probability, 6), drop_reason
            from intermediate.int_identity_probabilistic_links
            where not is_accepted
                and (node_key_a in (select node_key from nodes) or node_key_b in (select node_key from nodes))""",
        params,
    ).fetchall()
    quarantined = conn.execute(
        f"""with nodes as ({_person_nodes_sql()}),
            rows_of_person as (
                select distinct o.source_model, o.source_key from intermediate.int_identity_observations o
                where o.node_key in (select node_key from nodes))
            select distinct i.identifier_type || ' ' || i.identifier_value, i.exclusion_reason, i.exclusion_detail
            from rows_of_person r
            join intermediate.int_identity_observations o on o.source_model = r.source_model
                and o.source_key = r.source_key
            join intermediate.int_identity_identifiers i on i.node_key = o.node_key
            where i.exclusion_reason is not null""",
        params,
    ).fetchall()
    lines = [f"dropped link: {a} -- {b}: {reason} ({detail})" for a, b, reason, detail in dropped]
    lines += [f"probabilistic match not used: {a} ~ {b} ({p}): {reason}" for a, b, p, reason in rejected_matches]
    lines += [
        f"quarantined identifier on the person's rows: {ident}: {reason} ({detail})"
        for ident, reason, detail in quarantined
    ]
    return Section("Links dropped and identifiers quarantined", lines or ["none"])


def excluded_section(conn, subject: Subject) -> Section | None:
    if subject.excluded_node_key is None:
        return None
    row = conn.execute(
        "select identifier_type, identifier_value, exclusion_reason, exclusion_detail, observation_count "
        "from intermediate.int_identity_identifiers where node_key = ?",
        [subject.excluded_node_key],
    ).fetchone()
    return Section(
        "Identifier kept out of the identity graph",
        [f"{row[0]} {row[1]}: {row[2]} ({row[3]}); seen on {row[4]} source rows, which link nothing through it"],
    )


def merges_section(conn, subject: Subject) -> Section | None:
    if subject.person_id is None:
        return None
    rows = conn.execute(
        """select loser_person_id, merged_at, link_kind, link_identifier_type_a || ' ' || link_identifier_value_a,
                  link_identifier_type_b || ' ' || link_identifier_value_b
           from marts.fct_person_merges where winner_person_id = ? order by merged_at""",
        [subject.person_id],
    ).fetchall()
    if not rows:
        return None
    return Section(
        "Persons merged into this one", _table(rows, ("merged person", "merged at", "link", "identifier", "linked to"))
    )


def _relation_exists(conn, relation: str) -> bool:
    schema, name = relation.split(".")
    return bool(
        conn.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?", [schema, name]
        ).fetchone()[0]
    )


def audiences_section(conn, subject: Subject) -> Section | None:
    """The person's audiences, since when, what defines each, and the profile values that put the person there."""
    from cdp.audiences import DEFINITIONS_TABLE, OUTPUT_SCHEMA, profile_sql

    if subject.person_id is None or not _relation_exists(conn, "marts.fct_audience_memberships"):
        return None
    definitions = f"{OUTPUT_SCHEMA}.{DEFINITIONS_TABLE}"
    # A warehouse built before the audience step existed has memberships but no definitions.
    if _relation_exists(conn, definitions):
        described = "definitions.defined_in, definitions.condition, definitions.qualifying_columns"
        joined = f"left join {definitions} as definitions on definitions.audience_name = memberships.audience_name"
    else:
        described, joined = "null, null, null", ""
    rows = conn.execute(
        f"""select memberships.audience_name, memberships.entered_at, {described}
            from marts.fct_audience_memberships as memberships {joined}
            where memberships.person_id = ? order by memberships.audience_name""",
        [subject.person_id],
    ).fetchall()
    if not rows:
        return Section("Audiences (fct_audience_memberships)", ["none"])
    profile_columns = {
        name for (name,) in conn.execute(f"select column_name from (describe {profile_sql()})").fetchall()
    }
    qualifying = {
        audience: [c for c in (columns or "").split(",") if c in profile_columns] for audience, *_, columns in rows
    }
    wanted = list(dict.fromkeys(column for columns in qualifying.values() for column in columns))
    values: dict[str, object] = {}
    if wanted:
        found = conn.execute(
            f"select {', '.join(wanted)} from ({profile_sql()}) as profile where person_id = ?", [subject.person_id]
        ).fetchone()
        values = dict(zip(wanted, found, strict=True)) if found else {}
    table = [
        (
            audience,
            entered_at,
            f"{defined_in}: {condition}" if condition else (defined_in or ""),
            ", ".join(f"{column} = {values.get(column)}" for column in qualifying[audience]),
        )
        for audience, entered_at, defined_in, condition, _ in rows
    ]
    return Section(
        "Audiences (fct_audience_memberships)",
        _table(table, ("audience", "entered at", "defined by", "qualifying values now")),
    )


def _minutes(value: int | None) -> str:
    if value is None:
        return "-"
    hours, minutes = divmod(int(value), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _why(row: dict) -> str:
    """The rule that decided a message and the values behind it, in words."""
    parts = [f"channel by {row['channel_reason']}"]
    if row["reachability_reason"]:
        parts[-1] += f" (reachability: {row['reachability_reason']})"
    if row["previous_channel"]:
        engaged = f"engaged {row['previous_engaged_at']}" if row["previous_engaged_at"] else "no open or click"
        parts.append(f"previous step on {row['previous_channel']}, {engaged}")
    reason = row["suppression_reason"]
    details = {
        "already_sent": f"sent {row['sent_at']}",
        "reentry_gap": f"re-entry gap: {row['reentry_blocked_by']} at {row['reentry_blocking_at']}",
        "stale_source": f"stale sources: {row['stale_sources']}",
        "goal_reached": f"goal met {row['goal_met_at']}",
        "duplicate_offer": f"offer {row['offer_key']} already planned or sent {row['duplicate_offer_at']}",
        "frequency_cap": f"no slot: {row['allocation_detail']}",
    }
    if reason:
        parts.append(details.get(reason, reason))
    elif row["deferred_by"]:
        parts.append(f"deferred {_minutes(row['deferred_minutes'])} by {row['deferred_by']}")
    if row["cap_slot_day"] is not None or reason == "frequency_cap":
        parts.append(
            f"cap slot: day +{row['cap_slot_day'] if row['cap_slot_day'] is not None else '-'}, "
            f"{row['cap_day_load']} already that day and {row['cap_week_load']} that week, "
            f"round {row['allocation_round']}"
        )
    return "; ".join(parts)


def messages_section(conn, subject: Subject) -> Section | None:
    """Every candidate message of the person: its status, the rule that decided it and the values behind it."""
    if subject.person_id is None or not _relation_exists(conn, "marts.fct_message_plan"):
        return None
    registry = read_channels(project_dir() / "dbt_project.yml")
    channels = list(registry.names)
    consent_columns = [c.consent_column for c in registry.channels] + [
        c.transactional_consent_column for c in registry.channels
    ]
    profile = conn.execute(
        f"""select is_erased, preferred_channel, open_support_tickets, {", ".join(consent_columns)}
            from marts.dim_persons where person_id = ?""",
        [subject.person_id],
    ).fetchone()
    lines = []
    if profile:
        marketing = [c for c, granted in zip(channels, profile[3 : 3 + len(channels)], strict=True) if granted]
        transactional = [c for c, granted in zip(channels, profile[3 + len(channels) :], strict=True) if granted]
        lines.append(
            f"erased: {'yes' if profile[0] else 'no'}; marketing consent: {', '.join(marketing) or 'none'}; "
            f"transactional consent: {', '.join(transactional) or 'none'}; "
            f"preferred channel: {profile[1] or 'none'}; open support tickets: {profile[2]}"
        )
    zone = conn.execute(
        "select time_zone, time_zone_source from intermediate.int_person_time_zones where person_id = ?",
        [subject.person_id],
    ).fetchone()
    if zone:
        lines.append(f"time zone: {zone[0]} (from {zone[1]}), for quiet hours and the cap's local days")
    cursor = conn.execute(
        """select journey, step, occurrence_key, channel, status, coalesce(suppression_reason, '') as reason, due_at,
                  send_after, message_key, channel_reason, reachability_reason, previous_channel, previous_engaged_at,
                  suppression_reason, sent_at, reentry_blocked_by, reentry_blocking_at, stale_sources, goal_met_at,
                  offer_key, duplicate_offer_at, allocation_detail, deferred_by, deferred_minutes, cap_slot_day,
                  cap_day_load, cap_week_load, allocation_round
           from marts.fct_message_plan where person_id = ? order by journey, occurrence_key, step""",
        [subject.person_id],
    )
    names = [column[0] for column in cursor.description]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if not rows:
        return Section("Messages planned or suppressed (fct_message_plan)", [*lines, "no journey plans a message"])
    headers = ("journey", "step", "occurrence", "channel", "status", "reason", "due at", "send after", "message key")
    table = _table([tuple(row[name] for name in names[:9]) for row in rows], headers)
    lines.append(table[0])
    for row, line in zip(rows, table[1:], strict=True):
        lines += [line, f"    why: {_why(row)}"]
    return Section("Messages planned or suppressed (fct_message_plan)", lines)


def message_history_section(conn, subject: Subject) -> Section | None:
    if subject.person_id is None or not _relation_exists(conn, "marts.fct_message_events"):
        return None
    rows = conn.execute(
        """select occurred_at, event_source, provider, channel, coalesce(journey, campaign), event_type,
            coalesce(message_key, message_id)
           from marts.fct_message_events where person_id = ? order by occurred_at, event_source, event_type""",
        [subject.person_id],
    ).fetchall()
    if not rows:
        return None
    return Section(
        "Message history (fct_message_events)",
        _table(rows, ("at", "source", "provider", "channel", "journey or campaign", "event", "message")),
    )


def sends_section(conn, subject: Subject) -> Section | None:
    """What activation sent (or cancelled) and the consent event each send went under."""
    if subject.person_id is None:
        return None
    rows = StateStore(conn).sends_of(subject.person_id)
    if not rows:
        return None
    lines = []
    table = _table([row[:6] for row in rows], ("at", "sync", "channel", "journey", "step", "status"))
    lines.append(table[0])
    for row, line in zip(rows, table[1:], strict=True):
        event_id, subject_type, channel, purpose, recorded_at, source = row[6:]
        consent = (
            f"consent event {event_id}: {subject_type} subject, channel {channel}, purpose {purpose}, "
            f"recorded {f'{recorded_at:%Y-%m-%d %H:%M} UTC' if recorded_at else 'at an unreadable time'}, "
            f"source {source or 'not recorded'}"
            if event_id
            else "no consent event recorded with this send"
        )
        lines += [line, f"    {'revoked by' if row[5] == 'cancelled' else 'allowed by'} {consent}"]
    return Section("Sends and the consent behind each (activation.send_ledger)", lines)


SECTIONS: list[SectionBuilder] = [
    person_section,
    excluded_section,
    identifiers_section,
    links_section,
    dropped_section,
    merges_section,
    audiences_section,
    messages_section,
    message_history_section,
    sends_section,
]


def explain(warehouse: Path, text: str) -> list[Section]:
    if not warehouse.is_file():
        raise FileNotFoundError(f"{warehouse}: no warehouse yet; run `cdp build` first")
    with duckdb.connect(str(warehouse), read_only=True) as conn:
        subject = resolve(conn, text)
        return [section for build in SECTIONS if (section := build(conn, subject)) is not None]


def render(sections: list[Section]) -> str:
    out: list[str] = []
    for section in sections:
        out += [section.title, "-" * len(section.title), *section.lines, ""]
    return "\n".join(out)


def register(commands) -> None:
    """Add `cdp explain` to the CLI's subcommands."""
    command = commands.add_parser("explain", help="why a person (or identifier) is who they are")
    command.add_argument("id", help="a person_id, or an identifier: e-mail, phone, CRM id, loyalty card, device...")
    command.set_defaults(handler=_explain_command)


def _explain_command(args) -> int:
    from cdp.paths import warehouse_path

    try:
        print(render(explain(warehouse_path(), args.id)))
    except SubjectNotFound as error:
        # The id the operator typed is not repeated: it may be personal data.
        print(f"cdp explain: {error}")
        return 1
    return 0
