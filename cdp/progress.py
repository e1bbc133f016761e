"""What the `cdp` command shows while it works: the one place that configures logging.

Library code (activation/, cdp/) only logs through `logging.getLogger(__name__)` and
reports long work through activation.progress; the command decides here how much of it
is seen. `--quiet` keeps warnings and errors, `--verbose` adds debug lines (every batch
and file step), the default is INFO. Only the project's own loggers (cdp, activation)
follow the flags; every other library stays at WARNING, so `--verbose` never prints an
HTTP library's request lines (a URL can carry an address).

On a terminal (stderr is a TTY) log lines go through rich, with a progress bar while a
long task runs (the raw files, each sync); anywhere else (CI, Dagster, a pipe) they are
plain lines and nothing else: no bar, no colour, no control characters. dbt, which
prints its own lines, is told the same (dbt_output_flags).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.progress import Task as RichTask
from rich.text import Text

from activation.progress import NO_PROGRESS, Progress

# The loggers the flags set; the rest of the process keeps Python's default, WARNING.
PROJECT_LOGGERS = ("cdp", "activation")
PLAIN_FORMAT = "%(levelname)s %(name)s: %(message)s"


def add_verbosity_flags(command: argparse.ArgumentParser) -> None:
    group = command.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", action="store_true", help="print warnings, errors and the final report only")
    group.add_argument("-v", "--verbose", action="store_true", help="also print debug lines (every batch and file)")


def verbosity_level(args: argparse.Namespace) -> int:
    if getattr(args, "quiet", False):
        return logging.WARNING
    return logging.DEBUG if getattr(args, "verbose", False) else logging.INFO


def dbt_output_flags() -> list[str]:
    """dbt's flags for what the command was asked to show: quiet under `--quiet`, no colour off a terminal.

    Read from the level command_output gave the cdp logger, so every command that runs dbt
    (cdp build, cdp demo) follows its flags; unconfigured (a library caller, the tests)
    dbt keeps its own defaults apart from colour.
    """
    flags = [] if sys.stdout.isatty() else ["--no-use-colors"]
    if logging.getLogger("cdp").level > logging.INFO:
        flags.append("--quiet")
    return flags


class _Rate(ProgressColumn):
    """Units per second, in the task's own unit (rows, tables)."""

    def render(self, task: RichTask) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} {task.fields['unit']}/s" if speed else "")


class TerminalProgress:
    """activation.progress.Progress as rich bars; the display runs only while a task is open,
    so that nothing redraws over what dbt prints between tasks."""

    def __init__(self, console: Console):
        self.display = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            _Rate(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )

    @contextmanager
    def task(self, description: str, total: int, unit: str) -> Iterator[_TerminalTask]:
        if not self.display.tasks:
            self.display.start()
        task_id = self.display.add_task(description, total=total, unit=unit)
        try:
            yield _TerminalTask(self.display, task_id)
        finally:
            self.display.remove_task(task_id)
            if not self.display.tasks:
                self.display.stop()


class _TerminalTask:
    def __init__(self, display: RichProgress, task_id):
        self.display, self.task_id = display, task_id

    def advance(self, amount: int) -> None:
        self.display.advance(self.task_id, amount)


@contextmanager
def command_output(level: int, stream: TextIO | None = None) -> Iterator[Progress]:
    """Log the project's loggers at ``level`` to ``stream`` (stderr) for one command; the progress display to use.

    Undone on exit (handler removed, levels restored), so that calling the command in a
    process that logs otherwise (the tests) leaves that process's logging as it was.
    """
    stream = stream or sys.stderr
    terminal = stream.isatty()
    if terminal:
        console = Console(file=stream)
        handler: logging.Handler = RichHandler(console=console, show_path=False, markup=False)
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    root = logging.getLogger()
    root.addHandler(handler)
    loggers = [logging.getLogger(name) for name in PROJECT_LOGGERS]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield TerminalProgress(console) if terminal and level <= logging.INFO else NO_PROGRESS
    finally:
        root.removeHandler(handler)
        for logger, was in zip(loggers, previous, strict=True):
            logger.setLevel(was)
