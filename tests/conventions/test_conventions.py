"""The project's conventions (docs/conventions.md), enforced on dbt's manifest and, where a
convention is about data, on a small build."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import pytest

from cdp.contract import raw_contract
from cdp.dbt_runner import manifest_path, run_dbt
from cdp.paths import project_dir
from cdp.project_vars import project_var
from tests.conftest import build_warehouse, query

PREFIXES_BY_LAYER = {
    "staging": ("stg_", "base_"),
    "intermediate": ("int_",),
    "marts": ("aud_", "bdg_", "dim_", "fct_", "sync_"),
}
PERSONAL_COLUMNS = {
    "email",
    "phone",
    "first_name",
    "last_name",
    "birth_date",
    "street",
    "postal_code",
    "push_token",
    "payment_fingerprint",
}
# Only cdp_as_of() may know what time it is, so that every run is reproducible.
CLOCK = re.compile(
    r"\b(now\s*\(|current_timestamp|current_date|getdate|sysdate|localtimestamp|run_started_at)", re.IGNORECASE
)


@pytest.fixture(scope="module")
def manifest() -> dict:
    run_dbt(["parse", "--quiet"])
    return json.loads(manifest_path().read_text())


def models(manifest: dict) -> list[dict]:
    return [
        node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["package_name"] == "cdp"
    ]


def data_tests_by_column(manifest: dict) -> dict[tuple[str, str], set[str]]:
    found: dict[tuple[str, str], set[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "test" or not node.get("attached_node") or not node.get("column_name"):
            continue
        found.setdefault((node["attached_node"], node["column_name"]), set()).add(node["test_metadata"]["name"])
    return found


def test_model_names_carry_their_layer_prefix(manifest):
    for model in models(manifest):
        layer = model["fqn"][1]
        assert layer in PREFIXES_BY_LAYER, (
            f"{model['original_file_path']}: models live under staging/, intermediate/ or marts/"
        )
        assert model["name"].startswith(PREFIXES_BY_LAYER[layer]), (
            f"{model['original_file_path']}: a {layer} model's name starts with {' or '.join(PREFIXES_BY_LAYER[layer])}"
        )


def test_staging_names_follow_source_and_entity(manifest):
    for model in models(manifest):
        if model["fqn"][1] == "staging":
            source_folder = model["fqn"][2]
            assert re.fullmatch(rf"(stg|base)_{source_folder}__[a-z_]+s", model["name"]), model["name"]


def test_every_model_says_its_grain(manifest):
    for model in models(manifest):
        assert model["description"].startswith("One row per"), f"{model['name']}: description must start with its grain"


def composite_keys(manifest: dict) -> dict[str, list[list[str]]]:
    found: dict[str, list[list[str]]] = {}
    for node in manifest["nodes"].values():
        if (
            node["resource_type"] == "test"
            and node.get("test_metadata", {}).get("name") == "unique_combination_of_columns"
        ):
            columns = node["test_metadata"]["kwargs"]["combination_of_columns"]
            found.setdefault(node["attached_node"], []).append(columns)
    return found


def test_every_model_has_a_unique_not_null_key(manifest):
    tested = data_tests_by_column(manifest)
    composites = composite_keys(manifest)
    for model in models(manifest):
        not_null = {
            column for (node, column), kinds in tested.items() if node == model["unique_id"] and "not_null" in kinds
        }
        keys = [
            column
            for (node, column), kinds in tested.items()
            if node == model["unique_id"] and {"unique", "not_null"} <= kinds
        ]
        keys += [columns for columns in composites.get(model["unique_id"], []) if set(columns) <= not_null]
        assert keys, (
            f"{model['name']}: needs a key: a column with unique and not_null tests, "
            "or unique_combination_of_columns over not_null columns"
        )


def test_only_staging_reads_sources(manifest):
    for model in models(manifest):
        sources = [dependency for dependency in model["depends_on"]["nodes"] if dependency.startswith("source.")]
        if model["fqn"][1] != "staging":
            allowed = {"source.cdp.cdp_loader.cdp_load_issues"} if model["name"] == "fct_quarantined_rows" else set()
            python_steps = {
                dependency
                for dependency in sources
                if manifest["sources"][dependency]["source_name"].startswith("cdp_")
            }
            assert set(sources) <= allowed | python_steps, f"{model['name']} reads raw sources; only staging may"


def test_personal_data_columns_are_tagged(manifest):
    for model in models(manifest):
        for name, column in model["columns"].items():
            if name in PERSONAL_COLUMNS:
                assert "pii" in column.get("tags", []) + column.get("config", {}).get("tags", []), (
                    f"{model['name']}.{name} must be tagged pii"
                )


def test_only_cdp_as_of_knows_the_time(manifest):
    for model in models(manifest):
        assert not CLOCK.search(model["raw_code"]), (
            f"{model['original_file_path']}: use {{{{ cdp_as_of() }}}} for 'now'"
        )
    for macro in manifest["macros"].values():
        if macro["package_name"] == "cdp" and not macro["name"].startswith(("cdp_as_of", "default__cdp_as_of")):
            assert not CLOCK.search(macro["macro_sql"]), f"{macro['original_file_path']}: use cdp_as_of() for 'now'"


def without_comments(code: str) -> str:
    """SQL and Jinja code without its Jinja and SQL comments (which may name anything)."""
    return re.sub(r"--[^\n]*", "", re.sub(r"\{#.*?#\}", "", code, flags=re.DOTALL))


def sql_of_the_project(manifest: dict) -> dict[str, str]:
    """The code of every model, singular test and macro (generic tests included) of the project, by file."""
    code = {
        node["original_file_path"]: node["raw_code"]
        for node in manifest["nodes"].values()
        if node["package_name"] == "cdp" and node["resource_type"] in ("model", "test") and "raw_code" in node
    }
    for macro in manifest["macros"].values():
        if macro["package_name"] == "cdp":
            code[macro["original_file_path"]] = code.get(macro["original_file_path"], "") + macro["macro_sql"]
    return code


def test_generic_tests_live_in_tests_dbt_generic_named_for_what_holds(manifest):
    generic_tests = [
        macro
        for macro in manifest["macros"].values()
        if macro["package_name"] == "cdp" and macro["name"].startswith("test_")
    ]
    assert generic_tests, "the project defines generic tests"
    for macro in generic_tests:
        name = macro["name"].removeprefix("test_")
        assert macro["original_file_path"] == f"tests/dbt/generic/{name}.sql", (
            f"{macro['original_file_path']}: the generic test {name} lives alone in tests/dbt/generic/{name}.sql"
        )
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name) and not name.startswith("cdp_"), (
            f"{name}: a generic test is named for what holds on a passing model, without the cdp_ of macros"
        )


def test_only_the_channel_registry_names_consent_columns(manifest):
    channels = project_var("cdp__channels")
    columns = [channel[key] for channel in channels for key in ("consent_column", "transactional_consent_column")]
    # Reading a consent column by its name bypasses the registry; naming an output column
    # (`... as consent_email`, a provider's field) does not.
    read = re.compile(rf"(?<!as )\b({'|'.join(map(re.escape, columns))})\b", re.IGNORECASE)
    for path, code in sql_of_the_project(manifest).items():
        found = read.search(without_comments(code))
        assert not found, f"{path}: reads {found.group(1)} by name; use cdp_consent_column() and the channel registry"


def test_raw_contract_channels_are_the_registrys():
    registered = {channel["channel"] for channel in project_var("cdp__channels")}
    contract = raw_contract()
    channel_columns = {
        (table.name, column.name): set(column.accepted_values)
        for table in contract.values()
        for column in table.columns
        if column.name == "channel" and table.source in ("messaging", "privacy")
    }
    assert channel_columns.keys() == {("message_events", "channel"), ("consents", "channel")}
    assert channel_columns[("message_events", "channel")] == registered
    # A consent event may also apply to every channel at once.
    assert channel_columns[("consents", "channel")] == registered | {"all"}


def test_only_int_identity_source_row_persons_reads_the_identifier_type_precedence(manifest):
    readers = {
        path
        for path, code in sql_of_the_project(manifest).items()
        if "cdp__identity_type_precedence" in without_comments(code)
    }
    assert readers == {"models/intermediate/identity/int_identity_source_row_persons.sql"}, (
        "the person of a source row is decided once, by int_identity_source_row_persons; other models read it "
        f"through cdp_source_row_persons() (found the precedence in {sorted(readers)})"
    )


# Every row below carries the CRM key (or the loyalty card) of Ann and Bob's e-mail
# address. Those links would give one person two CRM ids, so they are dropped: the rows
# have two candidate persons, and cdp__identity_type_precedence (CRM key, loyalty card,
# e-mail, ...) gives each to Ann.
CONFLICTING_ROWS = {
    "crm_customers": [
        "C1,ann@example.com,,Ann,Lee,,,,,GB,2026-01-01T10:00:00Z,",
        "C2,bob@example.com,,Bob,Ray,,,,,GB,2026-01-01T10:00:00Z,",
    ],
    "loyalty_members": ["L1,C1,,,2026-01-02T10:00:00Z,active"],
    "orders": ["O1,C1,bob@example.com,,,web,2026-11-01T10:00:00Z,delivered,GBP,20.00,,"],
    "pos_transactions": [
        "R1,S1,L1,bob@example.com,,,2026-11-02T10:00:00Z,sale,GBP,30.00",
        "R2,S1,L1,bob@example.com,,,2026-11-03T10:00:00Z,return,GBP,30.00",
    ],
    "support_tickets": ["T1,C1,bob@example.com,,2026-11-04T10:00:00Z,,open,late,"],
    "survey_responses": ["N1,C1,bob@example.com,10,,2026-11-05T10:00:00Z"],
}


@pytest.fixture(scope="module")
def conflicting_rows_warehouse(tmp_path_factory) -> Path:
    raw_dir = tmp_path_factory.mktemp("raw")
    for table, rows in CONFLICTING_ROWS.items():
        header = ",".join(raw_contract()[table].column_names)
        (raw_dir / f"{table}.csv").write_text("\n".join([header, *rows]) + "\n")
    return build_warehouse(tmp_path_factory.mktemp("wh") / "cdp.duckdb", raw_dir, datetime(2026, 11, 20, 9))


@pytest.mark.slow
def test_every_model_gives_a_source_row_the_person_identity_gives_it(conflicting_rows_warehouse):
    warehouse = conflicting_rows_warehouse

    def person_of(identifier_type: str, value: str) -> str:
        sql = "select person_id from marts.bdg_person_identifiers where identifier_type = ? and identifier_value = ?"
        [(person_id,)] = query(warehouse, sql, [identifier_type, value])
        return person_id

    ann, bob = person_of("crm_customer_id", "C1"), person_of("email", "bob@example.com")
    assert ann != bob, "the fixture's rows must have two candidate persons"
    assert set(
        query(
            warehouse,
            "select source_key, person_id, decided_by_identifier_type from intermediate.int_identity_source_row_persons"
            " where source_model <> 'stg_crm__customers' and source_model <> 'stg_loyalty__members'",
        )
    ) == {
        ("O1", ann, "crm_customer_id"),
        ("R1", ann, "loyalty_card_id"),
        ("R2", ann, "loyalty_card_id"),
        ("T1", ann, "crm_customer_id"),
        ("N1", ann, "crm_customer_id"),
    }
    # Each model that attributes source rows to persons agrees with identity, row by row.
    assert set(query(warehouse, "select purchase_id, person_id from intermediate.int_purchases_attributed")) == {
        ("order-O1", ann),
        ("receipt-R1", ann),
    }
    assert query(warehouse, "select receipt_id, person_id from intermediate.int_store_returns_matched") == [("R2", ann)]
    assert query(
        warehouse, "select person_id, open_support_tickets, nps_class from intermediate.int_persons_service_summarized"
    ) == [(ann, 1, "promoter")]


def test_models_are_documented_in_their_folders_models_yml(manifest):
    for model in models(manifest):
        folder = Path(model["original_file_path"]).parent
        expected = folder / f"_{folder.name}__models.yml"
        patch = (model.get("patch_path") or "").split("://", 1)[-1]
        assert patch == str(expected), (
            f"{model['original_file_path']}: documented in {expected} (found {patch or 'none'})"
        )


def test_settings_are_commented_cdp_vars(manifest):
    lines = (project_dir() / "dbt_project.yml").read_text().splitlines()
    start = lines.index("vars:")
    declared = {}
    for number, line in enumerate(lines[start + 1 :], start + 1):
        if line and not line.startswith((" ", "#")):
            break
        if found := re.fullmatch(r"  ([A-Za-z0-9_]+):.*", line):
            declared[found.group(1)] = number
    assert declared, "dbt_project.yml declares its settings under vars:"
    for name, number in declared.items():
        assert name.startswith("cdp__"), f"dbt_project.yml: setting {name} is named cdp__<area>_<what>"
        assert lines[number - 1].strip().startswith("#"), f"dbt_project.yml: {name} needs a comment saying what it does"
    read = re.compile(r"""\bvar\(\s*['"]([A-Za-z0-9_]+)['"]""")
    for path, code in sql_of_the_project(manifest).items():
        for name in read.findall(without_comments(code)):
            assert name in declared, f"{path}: reads var {name}, which dbt_project.yml does not declare"


def test_warehouse_specific_sql_is_in_dispatched_macros(manifest):
    branching = re.compile(r"\btarget\.(type|name)\b|\badapter\.type\(")
    macros_by_name = {macro["name"]: macro for macro in manifest["macros"].values() if macro["package_name"] == "cdp"}
    for path, code in sql_of_the_project(manifest).items():
        assert not branching.search(without_comments(code)), (
            f"{path}: branches on the warehouse; put the difference in a dispatched macro (default__/duckdb__/spark__)"
        )
    for name, macro in macros_by_name.items():
        prefix, _, generic = name.partition("__")
        if prefix not in ("default", "duckdb", "spark") or not generic:
            continue
        dispatcher = macros_by_name.get(generic)
        assert dispatcher and f"adapter.dispatch('{generic}', 'cdp')" in dispatcher["macro_sql"], (
            f"{macro['original_file_path']}: {name} is reached through {generic}(), which calls adapter.dispatch"
        )
        assert f"default__{generic}" in macros_by_name, f"{macro['original_file_path']}: {generic} needs a default__"
