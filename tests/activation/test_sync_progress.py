"""`cdp sync` reports each sync's rows sent of its rows to send as batches are acknowledged."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
import yaml

from activation.engine import run_syncs
from cdp.cli import main
from tests.activation.conftest import NOW, klaviyo_destination, make_config, state_sync
from tests.build.test_progress import CONTROL

BATCH = 8


@pytest.fixture
def small_batches(warehouse, standin, secrets, tmp_path, monkeypatch):
    """The `cdp sync` CLI set-up of test_cli_and_policy, with batches of 8 rows."""
    config = tmp_path / "activation.yml"
    destination = klaviyo_destination(standin.url, batch_sizes={"upsert": BATCH})
    config.write_text(yaml.safe_dump({"destinations": {"klaviyo": destination}, "syncs": [state_sync()]}))
    monkeypatch.setenv("CDP_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("CDP_ACTIVATION_CONFIG", str(config))
    return warehouse


def test_verbose_sync_logs_rows_sent_of_rows_to_send_after_each_batch(small_batches, capsys):
    assert main(["sync", "--verbose"]) == 0
    out, err = capsys.readouterr()
    adds = int(re.search(r"adds ([\d,]+)", out).group(1).replace(",", ""))
    assert adds > 2 * BATCH, out
    lines = err.splitlines()
    assert f"INFO activation.engine: sync members: {adds} rows to go" in lines
    steps = [
        re.fullmatch(r"DEBUG activation\.engine: sync members: (\d+) of (\d+) rows sent \([\d,]+ rows/s\)", line)
        for line in lines
    ]
    assert [int(m[1]) for m in steps if m] == [*range(BATCH, adds, BATCH), adds]
    assert {int(m[2]) for m in steps if m} == {adds}
    assert any(
        line.startswith(f"INFO activation.engine: sync members: {adds} of {adds} rows sent in ") for line in lines
    )
    assert not CONTROL.search(err)


def test_a_quiet_sync_prints_the_report_and_no_progress(small_batches, capsys):
    assert main(["sync", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("members -> klaviyo (state, mirror): succeeded\n  adds 40,")
    assert err == ""


class RecordingProgress:
    """A progress display that keeps what it was asked to show."""

    def __init__(self):
        self.shown: list[tuple[str, int, str, list[int]]] = []

    @contextmanager
    def task(self, description: str, total: int, unit: str):
        advances: list[int] = []
        self.shown.append((description, total, unit, advances))

        class Task:
            def advance(self, amount: int) -> None:
                advances.append(amount)

        yield Task()


def test_a_message_sync_shows_each_batch_on_the_display_it_is_given(warehouse, standin, secrets):
    webhook = {
        "type": "webhook",
        "base_url": standin.url,
        "credentials": {"signing_secret": "TEST_WEBHOOK_SECRET"},
        "settings": {"path": "/hook"},
    }
    sync = {
        "name": "hooks",
        "source": "marts.fct_message_plan",
        "destination": "webhook",
        "kind": "message",
        "channels": ["email"],
        "join": {"relation": "marts.dim_persons", "columns": ["email"]},
    }
    progress = RecordingProgress()
    [report] = run_syncs(
        warehouse, make_config({"webhook": webhook}, [sync], merge_log=None), now=NOW, progress=progress
    )
    assert report.sends > 1 and report.ok == report.sends, report
    [(description, total, unit, advances)] = progress.shown
    # A webhook takes one message a request: one step per message.
    assert (description, total, unit) == ("sync hooks", report.sends, "rows") and advances == [1] * report.sends
