"""One rule for a build's "now", used by `cdp build` and by every Dagster run."""

from datetime import UTC, datetime

import pytest
from dagster import AssetExecutionContext, asset, instance_for_test, materialize

from cdp.clock import DEMO_DATA, EXPLICIT, START, demo_as_of, resolve_as_of
from cdp.paths import demo_raw_dir
from orchestration.clock import AS_OF_RULE_TAG, AS_OF_TAG, AS_OF_USED_TAG, run_as_of

STARTED = datetime(2027, 3, 1, 12, 30, 15, 987654)


def resolve(explicit, raw_dir):
    return resolve_as_of(explicit, raw_dir, STARTED, explicit_source="the tag", start_source="the start")


def test_an_explicit_moment_wins_then_the_demo_date_then_the_start(tmp_path):
    explicit = resolve("2026-01-02T03:04:05+01:00", demo_raw_dir())
    assert (explicit.moment, explicit.rule, explicit.source) == (datetime(2026, 1, 2, 2, 4, 5), EXPLICIT, "the tag")
    demo = resolve(None, demo_raw_dir())
    assert (demo.moment, demo.rule) == (demo_as_of(), DEMO_DATA)
    own = resolve(None, tmp_path)
    assert (own.moment, own.rule, own.source) == (datetime(2027, 3, 1, 12, 30, 15), START, "the start")
    # An empty tag is no tag; a datetime is taken as given (naive is UTC).
    assert resolve("  ", tmp_path).rule == START
    aware = resolve(datetime(2026, 5, 1, 10, tzinfo=UTC), tmp_path)
    assert (aware.moment, aware.rule) == (datetime(2026, 5, 1, 10), EXPLICIT)


def test_a_moment_that_is_not_iso_names_where_it_came_from(tmp_path):
    with pytest.raises(ValueError, match="the tag must be an ISO-8601 timestamp"):
        resolve("next tuesday", tmp_path)


def test_cdp_build_asks_the_same_rule(monkeypatch, tmp_path):
    import cdp.build

    class Stop(Exception):
        pass

    asked = []

    def answer_then_stop(*args, **kwargs):
        asked.append(resolve_as_of(*args, **kwargs))
        raise Stop

    monkeypatch.setattr(cdp.build, "resolve_as_of", answer_then_stop)
    with pytest.raises(Stop):
        cdp.build.build()
    with pytest.raises(Stop):
        cdp.build.build(raw_dir=tmp_path)
    with pytest.raises(Stop):
        cdp.build.build(raw_dir=demo_raw_dir(), as_of=datetime(2026, 1, 1))
    assert [(a.rule, a.source) for a in asked] == [
        (DEMO_DATA, "the bundled demo data's seeds/demo/as_of.txt"),
        (START, "the build's start"),
        (EXPLICIT, "--as-of"),
    ]


@asset
def reads_the_clock(context: AssetExecutionContext) -> None:
    context.add_output_metadata({"as_of": run_as_of(context).moment.isoformat()})


def materialised_as_of(instance, tags=None) -> tuple[str, dict]:
    result = materialize([reads_the_clock], instance=instance, tags=tags or {})
    (event,) = result.get_asset_materialization_events()
    return event.materialization.metadata["as_of"].value, instance.get_run_by_id(result.run_id).tags


def test_a_dagster_run_says_which_now_it_used_and_why(monkeypatch, tmp_path):
    with instance_for_test() as instance:
        monkeypatch.delenv("CDP_RAW_DIR", raising=False)
        used, tags = materialised_as_of(instance)
        assert used == demo_as_of().isoformat()
        assert tags[AS_OF_USED_TAG] == f"{demo_as_of().isoformat()}Z"
        assert tags[AS_OF_RULE_TAG].startswith(f"{DEMO_DATA}:")

        used, tags = materialised_as_of(instance, {AS_OF_TAG: "2026-12-24T18:00:00Z"})
        assert used == "2026-12-24T18:00:00" and tags[AS_OF_RULE_TAG] == f"{EXPLICIT}: run tag {AS_OF_TAG}"

        monkeypatch.setenv("CDP_RAW_DIR", str(tmp_path))
        used, tags = materialised_as_of(instance)
        created = instance.get_run_records()[0].create_timestamp.astimezone(UTC).replace(tzinfo=None, microsecond=0)
        assert used == created.isoformat()
        assert tags[AS_OF_RULE_TAG] == f"{START}: the run's creation time"
