"""Audiences: who is in which audience now, collected from SQL models and audiences.yml.

An audience is either a dbt model `models/marts/audiences/aud_<name>.sql` (one row per
person in it, `person_id` and `entered_at`, its meta in the folder's YAML) or an entry
of `audiences.yml`: a condition over the person's profile (`dim_persons` and
`int_person_event_features`), written in DuckDB's SQL and checked here before it runs.

dbt cannot discover models by folder when it parses a project (a `ref` found through
`graph` only at execution fails), so the union of all audiences is a step of the build
plan (cdp.steps), like the CLV fit: after the dbt stage that builds the aud_ models it
finds them in dbt's manifest, evaluates the YAML audiences in the warehouse, and writes
source `cdp_audiences` (schema `audiences`):

* `audience_members`: one row per (audience, person) qualifying now, with the
  qualification time the audience gives (`qualified_at`, null when it gives none);
* `audience_definitions`: one row per audience with its kind, file, owner, journeys, the
  profile columns that qualify a person, and a YAML audience's condition as written and
  as run.

The membership log (`int_audience_membership_log`) turns them into spells, so that
`entered_at` survives rebuilds. Nothing here logs member rows: they are personal data.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import sqlglot
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.schema import MappingSchema
from sqlglot.tokens import TokenType

from cdp.dbt_runner import manifest_path, run_dbt
from cdp.paths import project_dir

if TYPE_CHECKING:
    from cdp.warehouse import Warehouse

log = logging.getLogger(__name__)

OUTPUT_SOURCE = "cdp_audiences"
OUTPUT_SCHEMA = "audiences"
MEMBERS_TABLE = "audience_members"
DEFINITIONS_TABLE = "audience_definitions"
MODEL_PREFIX = "aud_"
AUDIENCES_FILE = "audiences.yml"
# What a condition and a model's qualifying_columns may read: one row per person each.
PROFILE_RELATIONS = {
    "dim_persons": "marts.dim_persons",
    "int_person_event_features": "intermediate.int_person_event_features",
}
# Conditions are written in DuckDB's SQL (the default warehouse) and transpiled from it.
CONDITION_DIALECT = "duckdb"
AS_OF = "as_of"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"

# A condition is one expression over one person's profile: comparisons, logic,
# arithmetic, literals and these pure scalar functions; nothing that reads other rows
# (subqueries, aggregates, windows), changes anything or depends on when it runs.
ALLOWED_NODES = (
    exp.Column,
    exp.Identifier,
    exp.Literal,
    exp.Boolean,
    exp.Null,
    exp.Paren,
    exp.And,
    exp.Or,
    exp.Not,
    exp.EQ,
    exp.NEQ,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.NullSafeEQ,
    exp.NullSafeNEQ,
    exp.Is,
    exp.In,
    exp.Between,
    exp.Like,
    exp.ILike,
    exp.Add,
    exp.Sub,
    exp.Mul,
    exp.Div,
    exp.Mod,
    exp.Neg,
    exp.DPipe,
    exp.Interval,
    exp.Var,
    exp.DataType,
    exp.DataTypeParam,
)
ALLOWED_FUNCTIONS: dict[type[exp.Func], str] = {
    exp.Cast: "cast",
    exp.TryCast: "try_cast",
    exp.Case: "case",
    exp.If: "if",
    exp.Coalesce: "coalesce",
    exp.Nullif: "nullif",
    exp.Greatest: "greatest",
    exp.Least: "least",
    exp.Abs: "abs",
    exp.Round: "round",
    exp.Floor: "floor",
    exp.Ceil: "ceil",
    exp.Lower: "lower",
    exp.Upper: "upper",
    exp.Length: "length",
    exp.Trim: "trim",
    exp.Substring: "substring",
    exp.Concat: "concat",
    exp.StartsWith: "starts_with",
    exp.EndsWith: "ends_with",
    exp.RegexpLike: "regexp_matches",
    exp.DateDiff: "date_diff",
    exp.DateTrunc: "date_trunc",
    exp.TimestampTrunc: "date_trunc",
    exp.Extract: "extract",
    exp.Year: "year",
    exp.Month: "month",
}
CLOCK_FUNCTIONS = (exp.CurrentTimestamp, exp.CurrentDate, exp.CurrentTime, exp.CurrentDatetime)
# Named in the message when a condition is one of them; anything else not allowed is refused too.
STATEMENTS = (
    exp.Query,
    exp.Values,
    exp.DDL,
    exp.DML,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Command,
    exp.Attach,
    exp.Detach,
    exp.Install,
    exp.Pragma,
    exp.Set,
    exp.Use,
    exp.Show,
    exp.Describe,
    exp.Grant,
    exp.Revoke,
    exp.Transaction,
    exp.Commit,
    exp.Rollback,
)
LOGICAL_NODES = (exp.And, exp.Or, exp.Not)


class AudienceError(ValueError):
    """An audience definition is wrong; the message names the audience, the file and the part."""


@dataclass(frozen=True)
class Audience:
    name: str
    kind: str  # "model" (an aud_ model) or "yaml" (an entry of audiences.yml)
    defined_in: str
    description: str
    owner: str
    journeys: tuple[str, ...]
    # Profile columns that put a person in the audience: a model's meta, the columns a condition reads.
    qualifying_columns: tuple[str, ...] = ()
    # The aud_ model's relation (schema.name) and name.
    relation: str | None = None
    model: str | None = None
    condition: str | None = None
    compiled_condition: str | None = None


# --- audiences.yml ----------------------------------------------------------------------


class DeclaredAudience(BaseModel):
    """One entry of audiences.yml."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(pattern=NAME_PATTERN, max_length=63)
    description: str = Field(min_length=1)
    owner: str = Field(min_length=1)
    condition: str = Field(min_length=1)
    journeys: list[str] = []


class AudiencesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    audiences: list[DeclaredAudience] = []


def audiences_file() -> Path:
    return project_dir() / AUDIENCES_FILE


def declared_audiences(path: Path | None = None) -> list[Audience]:
    """The audiences of audiences.yml (none when the file does not exist), validated as a file."""
    path = path or audiences_file()
    if not path.is_file():
        return []
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise AudienceError(f"{path.name}: not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    try:
        parsed = AudiencesFile.model_validate(document)
    except ValidationError as error:
        raise AudienceError("\n".join(_file_problems(path.name, document, error))) from None
    audiences = [
        Audience(
            name=entry.name,
            kind="yaml",
            defined_in=path.name,
            description=entry.description,
            owner=entry.owner,
            journeys=tuple(entry.journeys),
            condition=entry.condition,
        )
        for entry in parsed.audiences
    ]
    _check_unique_names(audiences)
    return audiences


def _file_problems(file_name: str, document: Any, error: ValidationError) -> list[str]:
    problems = []
    for problem in error.errors():
        location = list(problem["loc"])
        where = file_name
        if len(location) >= 2 and location[0] == "audiences" and isinstance(location[1], int):
            entry = document["audiences"][location[1]] if isinstance(document.get("audiences"), list) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            where += f": audience {name}" if isinstance(name, str) and name else f": audiences[{location[1]}]"
            location = location[2:]
        key = ".".join(str(part) for part in location)
        if problem["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown key '{key}'")
        elif problem["type"] == "missing":
            problems.append(f"{where}: key '{key}' is missing")
        elif problem["type"] == "string_pattern_mismatch":
            problems.append(
                f"{where}: {key} '{problem['input']}' must be lower case letters, digits and _, starting with a letter"
            )
        else:
            problems.append(f"{where}: {key or 'the file'}: {problem['msg']}")
    return problems


# --- SQL audiences: aud_ models in dbt's manifest ----------------------------------------


class ModelAudienceMeta(BaseModel):
    """The meta an aud_ model declares in its YAML; other meta keys are left to others."""

    model_config = ConfigDict(extra="ignore")

    owner: str = Field(min_length=1)
    journeys: list[str] = []
    qualifying_columns: list[str] = Field(min_length=1)


def current_manifest() -> dict:
    """dbt's manifest of the project, parsed again when a model, macro or the project file is newer than it."""
    path = manifest_path()
    if not path.is_file() or _newest_project_file() > path.stat().st_mtime:
        run_dbt(["parse", "--quiet"])
    return json.loads(path.read_text())


def _newest_project_file() -> float:
    root = project_dir()
    paths = [root / "dbt_project.yml"]
    for folder in ("models", "macros"):
        paths += [root / folder, *(root / folder).rglob("*")]
    return max(path.stat().st_mtime for path in paths if path.exists())


def model_audiences(manifest: Mapping[str, Any]) -> list[Audience]:
    """Every aud_ model of the project, with its meta checked."""
    problems = []
    audiences = []
    step_output = {key for key, source in manifest["sources"].items() if source["source_name"] == OUTPUT_SOURCE}
    downstream_of_step = _descendants(manifest, step_output)
    for unique_id, node in sorted(manifest["nodes"].items()):
        if (
            node["resource_type"] != "model"
            or node["package_name"] != "cdp"
            or not node["name"].startswith(MODEL_PREFIX)
        ):
            continue
        model, sql_file = node["name"], node["original_file_path"]
        name = model.removeprefix(MODEL_PREFIX)
        yaml_file = (node.get("patch_path") or "").split("://")[-1] or None
        if not yaml_file:
            problems.append(f"{sql_file}: {model} has no entry in a models YAML file (description and meta)")
            continue
        where = f"{yaml_file}: {model}"
        if not _matches_name(name):
            problems.append(f"{where}: an audience name is lower case letters, digits and _ after {MODEL_PREFIX}")
            continue
        if unique_id in downstream_of_step:
            problems.append(
                f"{where} reads what the audience step writes (source {OUTPUT_SOURCE}, e.g. through "
                "fct_audience_memberships): an audience cannot be defined on audiences"
            )
            continue
        if not node.get("description", "").strip():
            problems.append(f"{where}: description is missing")
        meta = node.get("config", {}).get("meta") or node.get("meta") or {}
        try:
            declared = ModelAudienceMeta.model_validate(meta)
        except ValidationError as error:
            problems += [f"{where}: meta {'.'.join(map(str, p['loc']))}: {p['msg']}" for p in error.errors()]
            continue
        audiences.append(
            Audience(
                name=name,
                kind="model",
                defined_in=sql_file,
                description=" ".join(node.get("description", "").split()),
                owner=declared.owner,
                journeys=tuple(declared.journeys),
                qualifying_columns=tuple(declared.qualifying_columns),
                relation=f"{node['schema']}.{node['alias'] or model}",
                model=model,
            )
        )
    if problems:
        raise AudienceError("\n".join(problems))
    return audiences


def _matches_name(name: str) -> bool:
    return re.fullmatch(NAME_PATTERN, name) is not None


def _descendants(manifest: Mapping[str, Any], roots: Iterable[str]) -> set[str]:
    children = manifest.get("child_map", {})
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in seen:
                seen.add(child)
                pending.append(child)
    return seen


def _check_unique_names(audiences: list[Audience]) -> None:
    first: dict[str, Audience] = {}
    problems = []
    for audience in audiences:
        if audience.name in first:
            earlier = first[audience.name].defined_in
            problems.append(f"audience {audience.name} is defined twice: in {earlier} and in {audience.defined_in}")
        else:
            first[audience.name] = audience
    if problems:
        raise AudienceError("\n".join(problems))


def all_audiences(manifest: Mapping[str, Any] | None = None, path: Path | None = None) -> list[Audience]:
    audiences = model_audiences(manifest if manifest is not None else current_manifest()) + declared_audiences(path)
    _check_unique_names(audiences)
    return audiences


def audience_names() -> list[str]:
    """Every audience a journey may name: the aud_ models (dbt's manifest) and the entries of audiences.yml."""
    return sorted(audience.name for audience in all_audiences())


def audience_step_reads(manifest: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The models the audience step reads: every aud_ model and the profile a condition reads."""
    models = [audience.model for audience in model_audiences(manifest or current_manifest())]
    return (*PROFILE_RELATIONS, *(model for model in models if model))


# --- conditions ---------------------------------------------------------------------------


def compile_condition(
    audience: str, condition: str, profile: Mapping[str, str], dialect: str, as_of: datetime
) -> tuple[str, tuple[str, ...]]:
    """``condition`` checked against ``profile`` (column -> type in ``dialect``) and written in ``dialect``.

    Returns the SQL (with as_of replaced by the as-of timestamp) and the profile columns
    it reads, in order of appearance. Raises AudienceError naming the audience and the
    offending part.
    """
    where = f"{AUDIENCES_FILE}: audience {audience}: condition"
    expression = _parse_one_expression(where, condition)
    columns = _check_nodes(where, expression, profile)
    timestamp = exp.cast(exp.Literal.string(as_of.strftime("%Y-%m-%d %H:%M:%S")), exp.DataType.build("timestamp"))
    resolved = expression.transform(
        lambda node: timestamp.copy() if isinstance(node, exp.Column) and node.name == AS_OF else node
    )
    _check_boolean(where, resolved, profile, dialect)
    return resolved.sql(dialect=dialect), columns


def _parse_one_expression(where: str, condition: str) -> exp.Expression:
    # sqlglot warns on its logger when it falls back to an opaque command; the error below says it better.
    sqlglot_log = logging.getLogger("sqlglot")
    level = sqlglot_log.level
    sqlglot_log.setLevel(logging.ERROR)
    try:
        tokens = sqlglot.tokenize(condition, read=CONDITION_DIALECT)
        statements = [statement for statement in sqlglot.parse(condition, read=CONDITION_DIALECT) if statement]
    except (ParseError, TokenError) as error:
        raise AudienceError(f"{where} does not parse: {_first_line(error)}") from None
    finally:
        sqlglot_log.setLevel(level)
    if len(statements) > 1:
        raise AudienceError(
            f"{where}: a second statement after ';' ({statements[1].sql()}); a condition is one expression"
        )
    if any(token.token_type == TokenType.SEMICOLON for token in tokens):
        raise AudienceError(f"{where}: a semicolon; a condition is one expression, without ';'")
    if not statements:
        raise AudienceError(f"{where} is empty")
    (expression,) = statements
    if isinstance(expression, STATEMENTS):
        verb = expression.sql(dialect=CONDITION_DIALECT).split(maxsplit=1)[0].upper()
        raise AudienceError(f"{where} is a statement ({verb} ...), not an expression over a person's profile")
    return expression


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0]


def _check_nodes(where: str, expression: exp.Expression, profile: Mapping[str, str]) -> tuple[str, ...]:
    columns: list[str] = []
    for node in expression.walk(bfs=False):
        if isinstance(node, (exp.Query, exp.Subquery, exp.Exists)):
            raise AudienceError(f"{where}: a subquery ({node.sql()}); a condition reads one person's profile only")
        if isinstance(node, CLOCK_FUNCTIONS) or (isinstance(node, exp.Anonymous) and node.name.lower() == "now"):
            raise AudienceError(f"{where}: {node.sql()} asks for the time; use {AS_OF}, the build's as-of time")
        if isinstance(node, exp.AggFunc):
            raise AudienceError(f"{where}: aggregate {node.sql()}; a condition reads one person's profile only")
        if isinstance(node, exp.Column):
            columns += _checked_column(where, node, profile)
        elif isinstance(node, ALLOWED_NODES) or type(node) in ALLOWED_FUNCTIONS:
            continue
        elif isinstance(node, exp.Func):
            name = node.name if isinstance(node, exp.Anonymous) else node.sql_name().lower()
            allowed = ", ".join(sorted(set(ALLOWED_FUNCTIONS.values())))
            raise AudienceError(f"{where}: function {name} ({node.sql()}) is not one a condition may use: {allowed}")
        else:
            raise AudienceError(f"{where}: {node.sql()} ({node.key}) is not allowed in a condition")
    return tuple(dict.fromkeys(columns))


def _checked_column(where: str, column: exp.Column, profile: Mapping[str, str]) -> list[str]:
    if column.table:
        raise AudienceError(f"{where}: {column.sql()}: write columns without a table name")
    if column.name == AS_OF:
        return []
    if column.name not in profile:
        close = difflib.get_close_matches(column.name, list(profile), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise AudienceError(
            f"{where}: unknown column {column.name}{hint}; a condition reads the columns of "
            f"{' and '.join(PROFILE_RELATIONS)} and {AS_OF}"
        )
    return [column.name]


def _check_boolean(where: str, expression: exp.Expression, profile: Mapping[str, str], dialect: str) -> None:
    qualified = expression.copy().transform(
        lambda node: exp.column(node.name, "profile") if isinstance(node, exp.Column) else node
    )
    schema = MappingSchema({"profile": dict(profile)}, dialect=dialect)
    # Column types are known only inside a query that reads the profile.
    typed = annotate_types(exp.select(qualified).from_("profile"), schema=schema, dialect=dialect).selects[0]
    if not _is_boolean(typed):
        raise AudienceError(f"{where} is not true or false: it is {_type_name(typed)}")
    for node in typed.walk():
        if isinstance(node, LOGICAL_NODES):
            for operand in (node.this, node.args.get("expression")):
                if operand is not None and not _is_boolean(operand):
                    shown = operand.transform(
                        lambda part: exp.column(part.name) if isinstance(part, exp.Column) else part
                    )
                    raise AudienceError(
                        f"{where}: {shown.sql(dialect=CONDITION_DIALECT)} is {_type_name(operand)}, not true or false, "
                        f"in {node.key.upper()}"
                    )


def _is_boolean(node: exp.Expression) -> bool:
    return node.type is not None and node.type.this in (exp.DataType.Type.BOOLEAN, exp.DataType.Type.NULL)


def _type_name(node: exp.Expression) -> str:
    kind = node.type.this if node.type is not None else exp.DataType.Type.UNKNOWN
    if kind == exp.DataType.Type.UNKNOWN:
        return "of a type that cannot be told"
    if kind in exp.DataType.NUMERIC_TYPES:
        return f"a number ({node.type.sql().lower()})"
    if kind in exp.DataType.TEXT_TYPES:
        return "text"
    return f"a {node.type.sql().lower()}"


# --- the build step -------------------------------------------------------------------------


@dataclass(frozen=True)
class AudienceReport:
    members: dict[str, int]

    def __str__(self) -> str:
        sizes = ", ".join(f"{name} {count:,}" for name, count in sorted(self.members.items()))
        return f"Audiences evaluated: {sizes or 'none'}"


def dialect_of(target: str | None) -> str:
    return "spark" if target == "spark" else "duckdb"


def profile_columns(warehouse: Warehouse) -> dict[str, str]:
    """Column -> type of the profile a condition reads (dim_persons and the event features)."""
    profile: dict[str, str] = {}
    origin: dict[str, str] = {}
    for model, relation in PROFILE_RELATIONS.items():
        columns = warehouse.columns(*relation.split("."))
        if not columns:
            raise AudienceError(f"{relation} does not exist: the dbt stage before the audience step builds it")
        for name, data_type in columns:
            if name == "person_id":
                profile.setdefault(name, data_type)
            elif name in profile:
                raise AudienceError(
                    f"column {name} is in both {origin[name]} and {model}; a profile column must be in one"
                )
            else:
                profile[name], origin[name] = data_type, model
    return profile


def profile_sql() -> str:
    """One row per person: the profile columns a condition or qualifying_columns read."""
    persons, features = PROFILE_RELATIONS.values()
    return f"select * from {persons} left join {features} using (person_id)"


def checked_audiences(audiences: list[Audience], warehouse: Warehouse, dialect: str, as_of: datetime) -> list[Audience]:
    """Audiences whose qualifying columns, model columns and conditions hold, YAML ones compiled; else AudienceError."""
    profile = profile_columns(warehouse)
    problems = []
    checked = []
    for audience in audiences:
        try:
            if audience.kind == "yaml":
                sql, columns = compile_condition(audience.name, audience.condition or "", profile, dialect, as_of)
                audience = replace(audience, compiled_condition=sql, qualifying_columns=columns)
            else:
                _check_model(audience, warehouse, profile)
        except AudienceError as error:
            problems.append(str(error))
            continue
        checked.append(audience)
    if problems:
        raise AudienceError("\n".join(problems))
    return checked


def _check_model(audience: Audience, warehouse: Warehouse, profile: Mapping[str, str]) -> None:
    where = f"{audience.model} ({audience.defined_in})"
    unknown = [column for column in audience.qualifying_columns if column not in profile]
    if unknown:
        raise AudienceError(
            f"{where}: meta qualifying_columns {', '.join(unknown)} not in {' or '.join(PROFILE_RELATIONS)}"
        )
    columns = dict(warehouse.columns(*(audience.relation or "").split(".")))
    if not columns:
        raise AudienceError(
            f"{where}: {audience.relation} does not exist; the dbt stage before the audience step builds it"
        )
    missing = [column for column in ("person_id", "entered_at") if column not in columns]
    if missing:
        raise AudienceError(
            f"{where} has no column {' and no column '.join(missing)}; an audience gives person_id and entered_at"
        )
    entered_type = columns["entered_at"].lower()
    if not entered_type.startswith(("timestamp", "date")):
        raise AudienceError(
            f"{where}: entered_at is {entered_type}; an audience gives a timestamp, or null "
            "(cast(null as timestamp)) where the data does not say"
        )


def members_sql(audiences: list[Audience], as_of: datetime) -> str:
    """One select per audience, unioned: (audience_name, person_id, qualified_at, evaluated_as_of)."""
    evaluated = f"cast('{as_of.strftime('%Y-%m-%d %H:%M:%S')}' as timestamp)"
    selects = []
    for audience in audiences:
        # Names are checked against NAME_PATTERN, so they are safe as literals.
        if audience.kind == "model":
            selects.append(
                f"select '{audience.name}' as audience_name, cast(person_id as string) as person_id, "
                f"cast(entered_at as timestamp) as qualified_at, {evaluated} as evaluated_as_of "
                f"from {audience.relation}"
            )
        else:
            selects.append(
                f"select '{audience.name}' as audience_name, cast(person_id as string) as person_id, "
                f"cast(null as timestamp) as qualified_at, {evaluated} as evaluated_as_of "
                f"from ({profile_sql()}) as profile where ({audience.compiled_condition})"
            )
    if not selects:
        return (
            "select cast(null as string) as audience_name, cast(null as string) as person_id, "
            f"cast(null as timestamp) as qualified_at, {evaluated} as evaluated_as_of where 1 = 0"
        )
    return "\nunion all\n".join(selects)


DEFINITIONS_SCHEMA = pa.schema(
    [
        (name, pa.string())
        for name in (
            "audience_name",
            "audience_kind",
            "defined_in",
            "description",
            "owner",
            "journeys",
            "qualifying_columns",
            "relation",
            "condition",
            "compiled_condition",
        )
    ]
    + [("evaluated_as_of", pa.timestamp("us"))]
)


def definitions_table(audiences: list[Audience], as_of: datetime) -> pa.Table:
    rows = [
        {
            "audience_name": audience.name,
            "audience_kind": audience.kind,
            "defined_in": audience.defined_in,
            "description": audience.description,
            "owner": audience.owner,
            "journeys": ",".join(audience.journeys),
            "qualifying_columns": ",".join(audience.qualifying_columns),
            "relation": audience.relation,
            "condition": audience.condition,
            "compiled_condition": audience.compiled_condition,
            "evaluated_as_of": as_of,
        }
        for audience in audiences
    ]
    return pa.Table.from_pylist(rows, schema=DEFINITIONS_SCHEMA)


def _members_who_are_not_persons(warehouse: Warehouse, members: str) -> list[tuple[str, int]]:
    return warehouse.query(
        f"""select members.audience_name, count(*)
            from ({members}) as members
            left join {PROFILE_RELATIONS["dim_persons"]} as persons on persons.person_id = members.person_id
            where persons.person_id is null
            group by members.audience_name
            order by members.audience_name"""
    )


def run_audience_step(as_of: datetime, target: str | None) -> AudienceReport:
    """Find and check every audience, then replace the `audiences` tables with their members as of ``as_of``."""
    from cdp.warehouse import open_warehouse

    audiences = all_audiences()
    warehouse = open_warehouse(target)
    try:
        audiences = checked_audiences(audiences, warehouse, dialect_of(target), as_of)
        members = members_sql(audiences, as_of)
        strangers = _members_who_are_not_persons(warehouse, members)
        if strangers:
            by_name = {audience.name: audience for audience in audiences}
            raise AudienceError(
                "\n".join(
                    f"{by_name[name].model or name} ({by_name[name].defined_in}): {count:,} rows whose person_id is "
                    "null or not a person of dim_persons"
                    for name, count in strangers
                )
            )
        warehouse.replace_tables(OUTPUT_SCHEMA, {DEFINITIONS_TABLE: definitions_table(audiences, as_of)})
        warehouse.replace_table_as(OUTPUT_SCHEMA, MEMBERS_TABLE, members)
        counts = dict(
            warehouse.query(
                f"select audience_name, count(*) from {OUTPUT_SCHEMA}.{MEMBERS_TABLE} group by audience_name"
            )
        )
    finally:
        warehouse.close()
    report = AudienceReport({audience.name: int(counts.get(audience.name, 0)) for audience in audiences})
    log.info("%s", report)
    return report
