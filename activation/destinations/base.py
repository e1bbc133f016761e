"""The one interface every destination implements.

A destination turns batches of records (state syncs) or messages (message syncs) into
provider requests through the shared HttpPolicy, and answers one Outcome per input row
in the same order. A request the provider rejects as a whole raises PermanentError: the
engine then splits the batch to isolate the bad rows. Anything transient raises
TransientError and the engine stops the sync with its state saved up to the last
acknowledged batch.

Class attributes declare what the provider offers and its documented limits, so that
configuration, the engine and the docs read them from one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from activation.config import ConfigError, DestinationConfig, RateLimit, SyncConfig
from activation.http import Backoff, HttpPolicy, RateLimiter


@dataclass
class Record:
    """One row of a state sync. `fields` holds what to send: every field for an add, only
    the changed ones for a change when the provider takes partial updates. `previous` is
    what was last synced (for removes and re-keys)."""

    key: str
    fields: dict[str, Any]
    previous: dict[str, Any] | None = None
    new_key: str | None = None  # set for re-keys after an identity merge


@dataclass
class Message:
    message_key: str
    person_id: str
    channel: str
    journey: str
    step: str
    fields: dict[str, Any] = field(default_factory=dict)  # addresses and personalisation


@dataclass
class Outcome:
    ok: bool
    provider_id: str | None = None
    error: str | None = None
    status: int | None = None
    skipped: bool = False  # not sent for a reason on our side (e.g. no template configured)


def ok(provider_id: str | None = None) -> Outcome:
    return Outcome(ok=True, provider_id=provider_id)


def rejected(error: str, status: int | None = None) -> Outcome:
    return Outcome(ok=False, error=error, status=status)


def skipped(reason: str) -> Outcome:
    return Outcome(ok=False, error=reason, skipped=True)


@dataclass
class Job:
    """An asynchronous import the provider acknowledged: its id and the rows it carries,
    in request order. A row's `fields` are what the job sent, or None when a later run
    has sent the row again since (the job's verdict on it no longer matters)."""

    job_id: str
    records: list[Record]


@dataclass
class JobResult:
    status: str  # pending | completed | errored | failed
    rejected: dict[str, str] = field(default_factory=dict)  # record key -> the provider's error
    rows_failed: int | None = None  # as the provider counts them
    detail: str | None = None  # e.g. why a job failed, or failed rows no key could be found for


class Destination:
    type_name: ClassVar[str]
    default_base_url: ClassVar[str]
    credential_names: ClassVar[tuple[str, ...]] = ()
    channels: ClassVar[frozenset[str]] = frozenset()
    supports_state: ClassVar[bool] = False
    partial_updates: ClassVar[bool] = False  # a change may carry only the changed fields
    supports_rekey: ClassVar[bool] = False  # an identity merge can move a profile to the winner's key
    # The provider deduplicates a repeated send by our message_key, so a send whose
    # outcome is unknown may be repeated safely.
    idempotent_sends: ClassVar[bool] = False
    # upsert() answers with a job id per row; check_job() tells how the job went.
    async_upserts: ClassVar[bool] = False
    required_state_fields: ClassVar[tuple[str, ...]] = ()
    required_message_fields: ClassVar[dict[str, tuple[str, ...]]] = {}  # channel -> columns
    # Rows per request, per engine operation (upsert, remove, send), at the provider's limit.
    default_batch_sizes: ClassVar[dict[str, int]] = {}
    default_rate_limits: ClassVar[dict[str, RateLimit]] = {}
    min_wait_after_429: ClassVar[float] = 0.0

    def __init__(self, config: DestinationConfig, http: HttpPolicy | None = None):
        self.config = config
        self.settings = config.settings
        self.http = http or HttpPolicy(
            RateLimiter(config.rate_limits),
            max_attempts=config.max_attempts,
            timeout_seconds=config.timeout_seconds,
            backoff=Backoff(min_wait_after_429=self.min_wait_after_429),
        )

    @classmethod
    def check_settings(cls, config: DestinationConfig, context: str) -> None:
        """Raise ConfigError naming the missing or wrong setting."""

    def prepare(self) -> None:
        """Before a sync sends anything: raise ConfigError if a credential cannot be had.

        Called before any send intent is recorded, so that a missing secret fails the sync
        cleanly instead of leaving intents that the next run must take for "may have been
        sent". Reads every configured credential; a destination that exchanges one for a
        token (FCM) does so here."""
        for name in self.config.credentials:
            self.config.credential(name)

    @classmethod
    def required_settings(cls, config: DestinationConfig, context: str, *names: str) -> None:
        missing = [n for n in names if not config.settings.get(n)]
        if missing:
            raise ConfigError(f"{context}: settings need {', '.join(missing)}")

    def check_sync(self, sync: SyncConfig) -> None:
        """Raise ConfigError if this sync's fields cannot be mapped to the provider."""

    def batch_size(self, operation: str) -> int:
        return self.config.batch_sizes.get(operation, 1)

    def url(self, path: str) -> str:
        return f"{self.config.base_url}{path}"

    # State syncs ---------------------------------------------------------------------
    def upsert(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        raise NotImplementedError(f"{self.type_name} takes no state syncs")

    def remove(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        raise NotImplementedError(f"{self.type_name} takes no state syncs")

    def rekey(self, records: list[Record], sync: SyncConfig) -> list[Outcome]:
        raise NotImplementedError(f"{self.type_name} cannot move a profile to another key")

    def check_job(self, job: Job) -> JobResult:
        """One look at an asynchronous import: pending, or finished with the rows it failed."""
        raise NotImplementedError(f"{self.type_name} runs no asynchronous imports")

    # Message syncs -------------------------------------------------------------------
    uses_templates: ClassVar[bool] = True  # content comes from settings.templates per journey step

    def send(self, messages: list[Message], sync: SyncConfig) -> list[Outcome]:
        """One request per message, as most providers take them; batching providers override."""
        outcomes = []
        for message in messages:
            template = self.template_for(message) if self.uses_templates else None
            if self.uses_templates and template is None:
                outcomes.append(no_template(message))
            else:
                outcomes.append(self.send_one(message, template, sync))
        return outcomes

    def send_one(self, message: Message, template: Any, sync: SyncConfig) -> Outcome:
        raise NotImplementedError(f"{self.type_name} sends no messages")

    def template_for(self, message: Message) -> Any | None:
        """The provider's template reference for this journey step (settings.templates).

        Keys are `<journey>.<step>`, `<journey>`, or `default`, most specific first."""
        templates = self.settings.get("templates") or {}
        for candidate in (f"{message.journey}.{message.step}", message.journey, "default"):
            if candidate in templates:
                return templates[candidate]
        return None


def no_template(message: Message) -> Outcome:
    return skipped(f"no template configured for {message.journey}.{message.step}")


def provider_error(response_text: str) -> str:
    """A short provider error for the rejected-rows table (kept in the warehouse only)."""
    try:
        body = json.loads(response_text)
    except ValueError:
        return response_text[:300]
    return json.dumps(body, separators=(",", ":"))[:300]


def text_fields(fields: dict[str, Any], exclude: tuple[str, ...] = ()) -> dict[str, str]:
    """Values as strings for APIs that only take string maps (FCM data, tags)."""
    return {k: "" if v is None else str(v) for k, v in fields.items() if k not in exclude}
