"""The one rule for a build's "now" (the dbt var cdp__as_of), wherever the build runs.

`cdp build` and every Dagster run call `resolve_as_of`, so that the same data plans the
same messages from the command line and from the UI. In order:

1. a moment given explicitly: `cdp build --as-of`, or the Dagster run tag `cdp/as_of`;
2. else, when the raw files are the bundled demo data, the demo's own moment
   (seeds/demo/as_of.txt), so that its stories (a cart abandoned yesterday) stay true
   on whatever day the demo is run;
3. else, when the work started: the build's start, or the Dagster run's creation time
   (one moment for every step of the run).

Every moment is naive UTC to the second, as the models store timestamps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cdp.paths import demo_raw_dir

# How a moment was chosen: the rule's number in the list above, as a word.
EXPLICIT = "explicit"
DEMO_DATA = "demo_data"
START = "start"


@dataclass(frozen=True)
class AsOf:
    moment: datetime
    rule: str
    # Which input decided, in words: "--as-of", "run tag cdp/as_of", "seeds/demo/as_of.txt", ...
    source: str

    def describe(self) -> str:
        return f"{self.moment.isoformat()}Z ({self.rule}: {self.source})"


def utc_now() -> datetime:
    """This moment, naive UTC to the second."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def parse_as_of(text: str, source: str = "--as-of") -> datetime:
    """An ISO-8601 timestamp as naive UTC; text without an offset is taken as UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(
            f"{source} must be an ISO-8601 timestamp such as 2026-11-20T09:00:00Z, got {text!r}"
        ) from error
    return _naive_utc(moment)


def demo_as_of() -> datetime:
    """The moment the bundled demo data's stories are told from (seeds/demo/as_of.txt)."""
    return parse_as_of((demo_raw_dir() / "as_of.txt").read_text(), source="seeds/demo/as_of.txt")


def is_demo_data(raw_dir: Path) -> bool:
    return Path(raw_dir).resolve() == demo_raw_dir().resolve()


def resolve_as_of(
    explicit: str | datetime | None,
    raw_dir: Path,
    started_at: datetime,
    *,
    explicit_source: str,
    start_source: str,
) -> AsOf:
    """The build's "now" by the rule of this module.

    ``explicit_source`` and ``start_source`` name the inputs in the caller's terms (say
    "run tag cdp/as_of" and "the run's creation time"), so the answer says why.
    """
    if isinstance(explicit, str) and explicit.strip():
        return AsOf(parse_as_of(explicit, source=explicit_source), EXPLICIT, explicit_source)
    if isinstance(explicit, datetime):
        return AsOf(_naive_utc(explicit), EXPLICIT, explicit_source)
    if is_demo_data(raw_dir):
        return AsOf(demo_as_of(), DEMO_DATA, "the bundled demo data's seeds/demo/as_of.txt")
    return AsOf(_naive_utc(started_at), START, start_source)


def _naive_utc(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0)
