"""What `cdp` shows while it works: log lines at the chosen level, a bar only on a terminal."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import cdp.build
from activation.progress import NO_PROGRESS, track
from cdp import cli
from cdp.progress import TerminalProgress, command_output, dbt_output_flags
from cdp.steps import python_steps
from tests.build.test_raw_loader import CRM_HEADER

# Every control character but the line break: colours, cursor moves, carriage returns.
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
LOG_LINE = re.compile(r"(DEBUG|INFO|WARNING|ERROR|CRITICAL) [\w.]+: ")
AS_OF = "2026-11-20T09:00:00Z"


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def small_raw_dir(root: Path) -> Path:
    """Two CRM customers; every other table of the contract has no file."""
    raw = root / "raw"
    raw.mkdir()
    (raw / "crm_customers.csv").write_text(
        f"{CRM_HEADER}\n"
        "C1,ann@example.com,,Ann,Lee,,,,,GB,2026-01-01T00:00:00Z,2026-01-01T00:00:00Z\n"
        "C2,bob@example.com,,Bob,Ray,,,,,GB,2026-01-02T00:00:00Z,2026-01-02T00:00:00Z\n"
    )
    return raw


def test_track_logs_the_start_at_info_each_step_at_debug_and_the_end_with_the_rate(caplog):
    log = logging.getLogger("activation.engine")
    with caplog.at_level(logging.DEBUG, logger="activation"), track("sync members", 10, log) as sent:
        sent.advance(4)
        sent.advance(6)
    records = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert records[0] == ("INFO", "sync members: 10 rows to go")
    assert [level for level, _ in records] == ["INFO", "DEBUG", "DEBUG", "INFO"]
    assert re.fullmatch(r"sync members: 4 of 10 rows sent \([\d,]+ rows/s\)", records[1][1]), records
    assert re.fullmatch(r"sync members: 10 of 10 rows sent in [\d.]+ s \([\d,]+ rows/s\)", records[3][1]), records


def test_off_a_terminal_there_are_plain_log_lines_and_no_bar_nor_control_characters():
    stream = io.StringIO()
    log = logging.getLogger("activation.engine")
    with command_output(logging.INFO, stream) as progress:
        assert progress is NO_PROGRESS
        with track("sync members", 3, log, progress) as sent:
            sent.advance(3)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "INFO activation.engine: sync members: 3 rows to go"
    assert lines[1].startswith("INFO activation.engine: sync members: 3 of 3 rows sent in ")
    assert len(lines) == 2 and not CONTROL.search(stream.getvalue())


def test_on_a_terminal_a_bar_is_drawn_while_the_task_runs(monkeypatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    terminal = Terminal()
    with command_output(logging.INFO, terminal) as progress:
        assert isinstance(progress, TerminalProgress)
        with track("sync members", 3, logging.getLogger("activation.engine"), progress) as sent:
            sent.advance(2)
            drawn = terminal.getvalue()
    # rich hides the cursor while it draws the bar; the log lines come through rich too, in colour.
    assert "\x1b[?25l" in drawn and "0/3" in drawn and "rows to go" in drawn
    assert "\x1b[?25h" in terminal.getvalue()[len(drawn) :]


def test_quiet_keeps_warnings_shows_no_bar_and_the_levels_are_restored_afterwards():
    for stream in (io.StringIO(), Terminal()):
        log = logging.getLogger("cdp.build")
        before = logging.getLogger("cdp").level
        with command_output(logging.WARNING, stream) as progress:
            assert progress is NO_PROGRESS
            with track("build", 2, log, progress, unit="steps", verb="done") as steps:
                steps.advance(2)
            log.warning("a warning")
            assert "--quiet" in dbt_output_flags()
        assert logging.getLogger("cdp").level == before
        assert "a warning" in stream.getvalue() and "steps" not in stream.getvalue()


def test_verbose_build_logs_each_raw_file_and_each_step_of_the_build_plan(tmp_path, monkeypatch, capsys):
    """The build's loop with dbt faked (the real build runs in the next test): the lines
    the steps produce, and the flags dbt is given."""
    dbt_calls = []
    # Only the steps that read no model (migrations, erasure): the others read models this
    # fake dbt does not build.
    steps = tuple(step for step in python_steps() if not step.reads)
    monkeypatch.setattr(cdp.build, "python_steps", lambda: steps)
    monkeypatch.setattr(cdp.build, "run_dbt", lambda arguments, **_: dbt_calls.append(arguments))
    monkeypatch.setattr(cli, "print_build_report", lambda result: print(f"Loaded {result.load.rows} raw rows"))
    monkeypatch.setenv("CDP_WAREHOUSE", str(tmp_path / "cdp.duckdb"))
    raw = small_raw_dir(tmp_path)
    assert cli.main(["build", "--verbose", "--raw-dir", str(raw), "--as-of", AS_OF]) == 0
    out, err = capsys.readouterr()
    assert out == "Loaded 2 raw rows\n"
    lines = err.splitlines()
    assert "INFO cdp.raw_loader: raw.crm_customers: 2 rows read from crm_customers.csv" in lines
    assert "INFO cdp.raw_loader: raw.orders: no file, created empty" in lines
    assert any(re.match(r"DEBUG cdp\.raw_loader: raw files: \d+ of \d+ tables read", line) for line in lines)
    total = len(steps) + 1  # the steps that read no model, then one dbt build of everything
    for number, step in enumerate(steps, start=1):
        assert f"INFO cdp.build: build step {number} of {total}: {step.name}" in lines
    assert f"INFO cdp.build: build step {total} of {total}: dbt build" in lines
    assert any(line.startswith(f"INFO cdp.build: build: {total} of {total} steps done in ") for line in lines)
    assert all(LOG_LINE.match(line) for line in lines), lines
    assert not CONTROL.search(err)
    assert len(dbt_calls) == 1 and "--quiet" not in dbt_calls[0] and "--no-use-colors" in dbt_calls[0]


def test_quiet_build_prints_the_report_and_no_info_line_from_cdp_or_dbt(demo_build):
    """The session's demo build is a real `cdp build --quiet`, its stderr a pipe as in CI."""
    report = demo_build.stdout.lstrip("\n").splitlines()
    assert report[0].startswith(f"Built {demo_build.warehouse} from ")
    assert report[1].startswith("Loaded ") and "Rows per layer:" in report
    # dbt's own lines ("Running with dbt=...", "1 of 250 OK created ...") are INFO too.
    assert "Running with dbt" not in demo_build.stdout and " OK created " not in demo_build.stdout
    assert not re.search(r"^(INFO|DEBUG) ", demo_build.stderr, re.MULTILINE), demo_build.stderr[-3000:]
    assert not CONTROL.search(demo_build.stdout + demo_build.stderr)
