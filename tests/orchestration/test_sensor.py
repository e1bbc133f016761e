"""The raw-files sensor starts one refresh per new or changed file, and its cursor (what
Dagster stores between evaluations, across restarts) keeps it from starting another."""

import os

from dagster import RunRequest, SkipReason, build_sensor_context, instance_for_test

from orchestration.automation import NEW_FILES_TAG, raw_files_landed


def evaluate(instance, cursor):
    context = build_sensor_context(instance=instance, cursor=cursor)
    return raw_files_landed(context), context.cursor


def test_a_new_file_starts_one_refresh_and_a_changed_file_another(monkeypatch, tmp_path):
    monkeypatch.setenv("CDP_RAW_DIR", str(tmp_path))
    customers = tmp_path / "crm_customers.csv"
    customers.write_text("customer_id,email\nC1,a@example.com\n")
    (tmp_path / "notes.txt").write_text("not a raw file")
    with instance_for_test() as instance:
        first, cursor = evaluate(instance, None)
        assert isinstance(first, RunRequest)
        assert first.tags[NEW_FILES_TAG] == "crm_customers.csv"

        # The same file again, evaluated from the stored cursor as after a restart.
        again, cursor = evaluate(instance, cursor)
        assert isinstance(again, SkipReason)

        # A new delivery overwrites the file; another table lands beside it.
        stat = customers.stat()
        os.utime(customers, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        (tmp_path / "orders.parquet").write_bytes(b"PAR1")
        second, cursor = evaluate(instance, cursor)
        assert isinstance(second, RunRequest)
        assert second.tags[NEW_FILES_TAG] == "crm_customers.csv, orders.parquet"
        assert second.run_key != first.run_key

        assert isinstance(evaluate(instance, cursor)[0], SkipReason)


def test_the_same_versions_request_the_same_run(monkeypatch, tmp_path):
    # Evaluated twice before the cursor was saved (a crash between the two), the sensor asks
    # for a run with the same key, which Dagster starts once.
    monkeypatch.setenv("CDP_RAW_DIR", str(tmp_path))
    (tmp_path / "crm_customers.csv").write_text("customer_id\nC1\n")
    with instance_for_test() as instance:
        assert evaluate(instance, None)[0].run_key == evaluate(instance, None)[0].run_key
