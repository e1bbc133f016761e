"""How long work reports how far it has got: a protocol its caller may implement, and the log lines.

activation is the lowest layer, so the protocol lives here: the `cdp` command passes a
terminal display (cdp.progress) that satisfies it, while Dagster and the tests pass
nothing and get NO_PROGRESS. Either way `track` logs the work through the caller's
logger: its start and end at INFO (count, total and rate), every step at DEBUG.
Descriptions name tables, files and syncs; callers never put a row's values in them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Protocol, TypeVar

T = TypeVar("T")


class ProgressTask(Protocol):
    def advance(self, amount: int) -> None: ...


class Progress(Protocol):
    def task(self, description: str, total: int, unit: str) -> AbstractContextManager[ProgressTask]:
        """A display of ``total`` units of work, shown while the context is open."""
        ...


class _NoTask:
    def advance(self, amount: int) -> None:
        pass


class NoProgress:
    """Shows nothing: the log lines are all there is."""

    def task(self, description: str, total: int, unit: str) -> AbstractContextManager[ProgressTask]:
        return nullcontext(_NoTask())


NO_PROGRESS: Progress = NoProgress()


class Tracker:
    """Counts the units done of a total; each step goes to the display and a DEBUG line."""

    def __init__(self, description: str, total: int, unit: str, verb: str, log: logging.Logger, task: ProgressTask):
        self.description, self.total, self.unit, self.verb = description, total, unit, verb
        self.log, self.task = log, task
        self.done = 0
        self.started = time.monotonic()

    def advance(self, amount: int) -> None:
        self.done += amount
        self.task.advance(amount)
        self.log.debug("%s: %s%s", self.description, self.count(), self.rate())

    def each(self, items: Iterable[T]) -> Iterator[T]:
        """The items, one unit advanced after the caller is done with each."""
        for item in items:
            yield item
            self.advance(1)

    def count(self) -> str:
        return f"{self.done:,} of {self.total:,} {self.unit} {self.verb}"

    def rate(self) -> str:
        elapsed = time.monotonic() - self.started
        return f" ({self.done / elapsed:,.0f} {self.unit}/s)" if elapsed > 0 and self.done else ""


@contextmanager
def track(
    description: str,
    total: int,
    log: logging.Logger,
    progress: Progress = NO_PROGRESS,
    unit: str = "rows",
    verb: str = "sent",
) -> Iterator[Tracker]:
    """Report ``total`` units of work under ``description`` as the caller advances the tracker.

    The lines read "sync members: 4,000 of 10,000 rows sent (2,345 rows/s)"."""
    log.info("%s: %s %s to go", description, f"{total:,}", unit)
    with progress.task(description, total, unit) as task:
        tracker = Tracker(description, total, unit, verb, log, task)
        yield tracker
    log.info("%s: %s in %.1f s%s", description, tracker.count(), time.monotonic() - tracker.started, tracker.rate())
