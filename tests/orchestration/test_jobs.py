"""The jobs in-process on the demo data, as the schedule runs them: the build job builds
what `cdp build` builds; the refresh-and-sync job sends to the local provider stand-ins,
plans what `cdp build` plans, shows its figures, and sends nothing the second time; a
failing blocking check stops a sync; two processes that write the warehouse take turns."""

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from itertools import pairwise
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, asset, instance_for_test, materialize

from cdp.clock import demo_as_of
from cdp.sync_cli import activation_config_path
from orchestration.activation import ActivationResource, activation_config
from orchestration.checks import persons_suite
from orchestration.clock import AS_OF_RULE_TAG, AS_OF_USED_TAG
from orchestration.definitions import defs
from orchestration.locking import WarehouseLock
from orchestration.metadata import AUDIENCE_SIZE, PLANNED_CHANNEL, ROW_COUNT, SUPPRESSED_REASON
from orchestration.syncs import sync_asset
from tests.conftest import query, row_changes, state_sync_rows, warehouse_at

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
PLAN = "select message_key, person_id, journey, step, channel, status, suppression_reason from marts.fct_message_plan"


def materialisations(result) -> dict[str, dict]:
    return {
        event.materialization.asset_key.to_user_string(): {
            k: v.value for k, v in event.materialization.metadata.items()
        }
        for event in result.get_asset_materialization_events()
    }


# What `cdp build` and the Dagster build must agree on, table by table.
BUILT = {
    "persons": "select count(*), count(distinct person_id) from marts.dim_persons",
    "probabilistic links": "select count(*) from marts.bdg_person_identifiers where not is_exact_links_only",
    "CLV fits": "select model, fit_status from marts.fct_clv_model_fits order by model",
    "planned messages": "select status, count(*) from marts.fct_message_plan group by status order by status",
    "quarantine": "select source_table, reason, count(*) from marts.fct_quarantined_rows group by 1, 2 order by 1, 2",
    "raw rows": "select count(*) from raw.crm_customers",
}


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    """cdp_refresh_and_sync run twice on an empty warehouse, from the bundled demo data.

    The second run is also the demo's second build, the one that applies its erasure
    request (the first build's graph names the person, docs/privacy.md)."""
    warehouse = tmp_path_factory.mktemp("dagster-refresh") / "cdp.duckdb"
    job = defs.resolve_job_def("cdp_refresh_and_sync")
    with pytest.MonkeyPatch.context() as env, instance_for_test() as instance, warehouse_at(warehouse):
        env.delenv("CDP_RAW_DIR", raising=False)
        first = job.execute_in_process(instance=instance, raise_on_error=False)
        plan_after_first = set(query(warehouse, PLAN))
        sent_after_first = query(
            warehouse, "select message_key, sync_name from activation.send_ledger where status = 'sent'"
        )
        persons_after_first = query(warehouse, "select count(distinct person_id) from marts.bdg_person_identifiers")
        synced_after_first = state_sync_rows(warehouse)
        audiences_after_first = query(
            warehouse, "select audience_name, count(*) from marts.fct_audience_memberships group by 1"
        )
        second = job.execute_in_process(instance=instance, raise_on_error=False)
        yield {
            "warehouse": warehouse,
            "first": first,
            "second": second,
            "plan": plan_after_first,
            "sent": sent_after_first,
            "persons": persons_after_first[0][0],
            "synced": synced_after_first,
            "audiences": audiences_after_first,
            "tags": instance.get_run_by_id(first.run_id).tags,
        }


def test_the_build_job_builds_what_cdp_build_builds(tmp_path, demo_warehouse):
    """The cdp_build job on an empty warehouse: the first build, like the session's demo."""
    warehouse = tmp_path / "cdp.duckdb"
    with pytest.MonkeyPatch.context() as env, instance_for_test() as instance, warehouse_at(warehouse):
        env.delenv("CDP_RAW_DIR", raising=False)
        built = defs.resolve_job_def("cdp_build").execute_in_process(instance=instance, raise_on_error=False)
    assert built.success
    for name, sql in BUILT.items():
        assert query(warehouse, sql) == query(demo_warehouse, sql), name
    assert query(warehouse, BUILT["raw rows"])[0][0] > 0


def test_the_refresh_sends_every_due_message_once_to_the_stand_ins(refreshed, demo_warehouse):
    assert refreshed["first"].success and refreshed["second"].success
    due = {
        key
        for (key,) in query(
            demo_warehouse,
            "select message_key from marts.fct_message_plan where status = 'planned' and send_after <= ?",
            [demo_as_of()],
        )
    }
    assert due and {key for key, _ in refreshed["sent"]} == due
    synced = materialisations(refreshed["first"])
    per_sync = {}
    for _, sync in refreshed["sent"]:
        per_sync[sync] = per_sync.get(sync, 0) + 1
    for sync in activation_config().syncs:
        metadata = synced[f"sync/{sync.name}"]
        assert metadata["status"] == "succeeded"
        assert metadata["sends"] == per_sync.get(sync.name, 0)
        assert "local provider stand-ins" in metadata["sent to"]
    assert synced["sync/klaviyo_members"]["adds"] > 0


def test_the_ui_plans_what_cdp_build_plans_and_says_which_now(refreshed, demo_warehouse):
    assert refreshed["plan"] == set(query(demo_warehouse, PLAN))
    assert refreshed["tags"][AS_OF_USED_TAG] == f"{demo_as_of().isoformat()}Z"
    assert refreshed["tags"][AS_OF_RULE_TAG].startswith("demo_data")
    plan = materialisations(refreshed["first"])["marts/fct_message_plan"]
    assert plan["cdp/as_of"].startswith(demo_as_of().isoformat())


def test_a_second_run_sends_nothing_twice_and_only_what_changed(refreshed):
    again = materialisations(refreshed["second"])
    synced_now = state_sync_rows(refreshed["warehouse"])
    for sync in activation_config().syncs:
        metadata = again[f"sync/{sync.name}"]
        assert metadata["status"] == "succeeded", sync.name
        # Every due message went out in the first run; the state syncs carry what the
        # second build changed (the erased person's purchases leave the RFM scores of others).
        expected = (0, 0, 0)
        if sync.kind == "state":
            expected = row_changes(refreshed["synced"][sync.name], synced_now[sync.name])
        shown = tuple(metadata[k] for k in ("adds", "changes", "removes"))
        assert (shown, metadata["sends"]) == (expected, 0), sync.name
        assert (metadata["requests"] > 0) == any(expected), sync.name
    sent = query(refreshed["warehouse"], "select message_key from activation.send_ledger where status = 'sent'")
    assert len(sent) == len(refreshed["sent"])


def test_assets_carry_their_figures(refreshed):
    shown = materialisations(refreshed["first"])
    for key, metadata in shown.items():
        if key.startswith(("staging/", "intermediate/", "marts/", "raw/")):
            assert metadata[ROW_COUNT] >= 0, key
    identity = shown["marts/bdg_person_identifiers"]
    assert identity["persons"] == refreshed["persons"] and "merges" in identity
    audiences = shown["marts/fct_audience_memberships"]
    assert refreshed["audiences"]
    for name, size in refreshed["audiences"]:
        assert audiences[f"{AUDIENCE_SIZE}{name}"] == size
    plan = shown["marts/fct_message_plan"]
    planned = [row for row in refreshed["plan"] if row[5] == "planned"]
    for channel in ("email", "sms", "whatsapp", "app_push", "web_push"):
        assert plan[f"{PLANNED_CHANNEL}{channel}"] == sum(1 for row in planned if row[4] == channel), channel
    suppressed = Counter(row[6] for row in refreshed["plan"] if row[5] == "suppressed")
    assert suppressed["erased"] > 0  # Ethan's candidates
    for reason, count in suppressed.items():
        assert plan[f"{SUPPRESSED_REASON}{reason}"] == count, reason
    checks = {e.check_name: e for e in refreshed["first"].get_asset_check_evaluations()}
    assert checks["persons_are_contactable_and_lawful"].passed
    assert checks["plan_suppressions_explained"].passed
    assert checks["audience_sizes_within_bounds"].passed


def test_no_personal_data_in_any_metadata(refreshed):
    values = {
        value
        for (row,) in query(
            refreshed["warehouse"], "select [email, phone, first_name, last_name]::varchar[] from marts.dim_persons"
        )
        for value in row
        if value
    }
    shown = json.dumps(
        [materialisations(refreshed[run]) for run in ("first", "second")]
        + [{k: str(v.value) for k, v in e.metadata.items()} for e in refreshed["first"].get_asset_check_evaluations()],
        default=str,
    )
    assert values and not [value for value in values if value in shown]


def test_a_failing_blocking_check_stops_the_sync_and_nothing_is_sent(tmp_path, demo_warehouse):
    warehouse = tmp_path / "cdp.duckdb"
    shutil.copy(demo_warehouse, warehouse)
    config = activation_config()
    email_sync = sync_asset(config, next(s for s in config.syncs if s.name == "email_messages"))

    @asset(key=AssetKey(["marts", "dim_persons"]))
    def dim_persons_with_a_typo() -> None:
        with duckdb.connect(str(warehouse)) as conn:
            conn.execute(
                "update marts.dim_persons set email = 'liam at example.com' where person_id = "
                "(select min(person_id) from marts.dim_persons where email is not null)"
            )

    resources = {
        "activation": ActivationResource(config_path=str(activation_config_path()), stand_ins=True),
        "warehouse_lock": WarehouseLock(),
    }
    with instance_for_test() as instance, warehouse_at(warehouse):
        result = materialize(
            [dim_persons_with_a_typo, persons_suite, email_sync],
            instance=instance,
            resources=resources,
            raise_on_error=False,
        )
        (check,) = result.get_asset_check_evaluations()
        assert not check.passed
        assert check.metadata["email is a valid e-mail address in lower case"].value.startswith("FAILS on 1 of ")
        assert "liam at example.com" not in repr(check.metadata)
        assert AssetKey(["sync", "email_messages"]) not in {
            e.materialization.asset_key for e in result.get_asset_materialization_events()
        }
        # On its own, later, the sync looks the check up and still refuses.
        alone = materialize([email_sync], instance=instance, resources=resources, raise_on_error=False)
        assert not alone.success
        (failure,) = [e for e in alone.all_events if e.event_type == DagsterEventType.STEP_FAILURE]
        assert "persons_are_contactable_and_lawful" in failure.event_specific_data.error.message
    # The build's migrations create activation.*; no sync started, so nothing is in them.
    assert query(warehouse, "select count(*) from activation.send_ledger")[0][0] == 0
    assert query(warehouse, "select count(*) from activation.message_events")[0][0] == 0


RUN_ONE_SYNC = """
import json, pathlib, sys, time
from dagster import DagsterInstance
from orchestration.definitions import defs
job = defs.resolve_job_def("cdp_sync_one")
go = pathlib.Path(sys.argv[2])
go.parent.joinpath(sys.argv[1] + ".ready").touch()
while not go.exists():
    time.sleep(0.1)
result = job.execute_in_process(run_config={"sync": sys.argv[1]}, instance=DagsterInstance.get(), raise_on_error=False)
print(json.dumps({"success": result.success, "run_id": result.run_id}))
"""


def test_two_processes_that_write_the_warehouse_take_turns(tmp_path, demo_warehouse):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROJECT / "orchestration" / "dagster.yaml", home / "dagster.yaml")
    # The instance's storage is created once, before two processes open it.
    DagsterInstance.from_config(str(home)).dispose()
    warehouse = tmp_path / "cdp.duckdb"
    shutil.copy(demo_warehouse, warehouse)
    go = tmp_path / "go"
    # A file, not `python -c`: pyspark takes a `-c` main module for its doctest runner.
    script = tmp_path / "run_one_sync.py"
    script.write_text(RUN_ONE_SYNC)
    environment = os.environ | {"DAGSTER_HOME": str(home), "CDP_WAREHOUSE": str(warehouse), "PYTHONPATH": str(PROJECT)}
    environment.pop("CDP_RAW_DIR", None)
    syncs = ["email_messages", "klaviyo_members"]
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), name, str(go)],
            cwd=PROJECT,
            env=environment,
            stdout=subprocess.PIPE,
            text=True,
        )
        for name in syncs
    ]
    while not all((tmp_path / f"{name}.ready").exists() for name in syncs):
        assert all(p.poll() is None for p in processes), "a run process ended before it was ready"
        time.sleep(0.2)
    go.touch()
    outcomes = [json.loads(p.communicate(timeout=600)[0].strip().splitlines()[-1]) for p in processes]
    assert all(outcome["success"] for outcome in outcomes), outcomes

    instance = DagsterInstance.from_config(str(home))
    intervals = []
    for outcome in outcomes:
        started = {}
        for record in instance.all_logs(outcome["run_id"]):
            event = record.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                started[event.step_key] = record.timestamp
            elif event.event_type == DagsterEventType.STEP_SUCCESS:
                intervals.append((started[event.step_key], record.timestamp, outcome["run_id"]))
    intervals.sort()
    assert len(intervals) == 2 * len(activation_config().syncs)
    overlaps = [(a, b) for a, b in pairwise(intervals) if b[0] < a[1]]
    assert not overlaps
    assert len({run for _, _, run in intervals}) == 2
