"""The one interface every destination implements.

A destination turns batches of records (state syncs) or messages (message syncs) into
provider requests through the shared HttpPolicy, and answers one Outcome per input row
in the same order. A request the provider rejects as a whole raises PermanentError: the
engine then splits the batch to isolate the bad rows. Anything transient raises
TransientError and the engine stops the sync with its state saved up to the last
acknowledged batch.

Class attributes declare what the provider offers, its documented limits and the
model of its `settings`, so that configuration, the engine and the docs read them from
one place.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from pydantic import Field

from activation.channels import ChannelRegistry
from activation.config_schema import DestinationConfig, DestinationSettings, SyncConfig
from activation.http import Backoff, HttpPolicy, RateLimit, RateLimiter


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

    def content(self, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        """What a template can use: the sync's fields, and beside them the plan's payload
        spread out (products, recommended products, tier, points, offer; lists joined
        with ", "), so `{recommended_product_ids}` works in any destination's template.
        A field of the sync wins over a payload key of the same name."""
        content = {key: value for key, value in self.fields.items() if key not in exclude}
        payload = self.fields.get("payload")
        if isinstance(payload, str):
            try:
                payload = json.loads(payload)
            except ValueError:
                payload = None
        if isinstance(payload, dict):
            for key, value in payload.items():
                if key not in exclude:
                    joined = ", ".join(str(item) for item in value) if isinstance(value, list) else value
                    content.setdefault(key, joined)
        return content


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


class TemplateSettings(DestinationSettings):
    """Settings of a destination whose content is a provider template per journey step."""

    # `<journey>.<step>`, `<journey>` or `default` -> the provider's template reference.
    templates: dict[str, Any] = Field(default_factory=dict)


class Destination:
    type_name: ClassVar[str]
    default_base_url: ClassVar[str]
    credential_names: ClassVar[tuple[str, ...]] = ()  # each must be configured
    optional_credential_names: ClassVar[tuple[str, ...]] = ()  # may be configured (check_credentials decides)
    Settings: ClassVar[type[DestinationSettings]] = DestinationSettings
    channels: ClassVar[frozenset[str]] = frozenset()
    supports_state: ClassVar[bool] = False
    partial_updates: ClassVar[bool] = False  # a change may carry only the changed fields
    supports_rekey: ClassVar[bool] = False  # an identity merge can move a profile to the winner's key
    # The provider deduplicates a repeated send by our message_key, so a send whose
    # outcome is unknown may be repeated safely.
    idempotent_sends: ClassVar[bool] = False
    # The provider can be asked whether a send went out (find_sent): a send an interrupted
    # run left pending is looked up, then closed as sent or sent now.
    looks_up_sends: ClassVar[bool] = False
    # The provider has a delete or privacy operation for a person (erasure): delete_person.
    # Fields of the synced payload it needs, kept in activation state until it is done.
    deletes_persons: ClassVar[bool] = False
    deletion_fields: ClassVar[tuple[str, ...]] = ()
    # upsert() answers with a job id per row; check_job() tells how the job went.
    async_upserts: ClassVar[bool] = False
    required_state_fields: ClassVar[tuple[str, ...]] = ()
    required_message_fields: ClassVar[dict[str, tuple[str, ...]]] = {}  # channel -> columns
    # Rows per request, per engine operation (upsert, remove, send), at the provider's limit.
    default_batch_sizes: ClassVar[dict[str, int]] = {}
    # The provider's limits where they are above the default: a send batch is what one crash
    # can leave unknown, so a provider that cannot be asked afterwards defaults to far less.
    max_batch_sizes: ClassVar[dict[str, int]] = {}
    default_rate_limits: ClassVar[dict[str, RateLimit]] = {}
    min_wait_after_429: ClassVar[float] = 0.0

    def __init__(self, config: DestinationConfig, channel_registry: ChannelRegistry, http: HttpPolicy | None = None):
        self.config = config
        self.settings = config.settings
        self.channel_registry = channel_registry
        self.http = http or HttpPolicy(
            RateLimiter(config.rate_limits),
            max_attempts=config.max_attempts,
            timeout_seconds=config.timeout_seconds,
            backoff=Backoff(min_wait_after_429=self.min_wait_after_429),
        )

    @classmethod
    def check_credentials(cls, credentials: dict[str, str]) -> None:
        """Raise ValueError when the configured credentials (names only) do not fit together."""

    @classmethod
    def supported_channels(cls, channel_registry: ChannelRegistry) -> frozenset[str]:
        """The channels of the registry this provider sends."""
        return cls.channels

    @classmethod
    def demo_credential(cls, name: str, standin: Any) -> str:
        """A throw-away value this type's stand-in (activation/standins/<type>.py) accepts for ``name``.

        `cdp demo` and `cdp sync --stand-in` give every credential variable such a value,
        so that a run against the stand-ins can never reach a provider with a real key.
        Most stand-ins take any value; a type whose stand-in checks one overrides this."""
        return f"demo-{name}"

    def prepare(self) -> None:
        """Before a sync sends anything: raise ConfigError if a credential cannot be had.

        Called before any send intent is recorded, so that a missing secret fails the sync
        cleanly instead of leaving intents that the next run must take for "may have been
        sent". Reads every configured credential; a destination that exchanges one for a
        token (FCM) does so here."""
        for name in self.config.credentials:
            self.config.credential(name)

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

    def delete_person(self, key: str, address: dict[str, Any]) -> str | None:
        """Ask the provider to delete the person synced under ``key`` (erasure); ``address``
        holds the deletion_fields last synced. None when done, else why there was nothing
        to delete by. Raises a DeliveryError when the request fails (retried next run)."""
        raise NotImplementedError(f"{self.type_name} has no operation to delete a person")

    def find_sent(self, message: Message, intent_at: datetime) -> str | None:
        """The provider's id of ``message`` if it went out after ``intent_at``, else None
        (destinations that declare looks_up_sends). Raises a DeliveryError when the
        provider cannot be asked now."""
        raise NotImplementedError(f"{self.type_name} cannot be asked whether a message went out")

    def send_one(self, message: Message, template: Any, sync: SyncConfig) -> Outcome:
        raise NotImplementedError(f"{self.type_name} sends no messages")

    def template_for(self, message: Message) -> Any | None:
        """The provider's template reference for this journey step (settings.templates).

        Keys are `<journey>.<step>`, `<journey>`, or `default`, most specific first."""
        templates = self.settings.templates
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
