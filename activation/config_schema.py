"""The shape of activation.yml: one pydantic model per part, every unknown key an error.

What depends on a destination's type (its operations and their limits, its credentials,
its settings model, what it can sync) is checked through the destination class, which
the loader (activation.config) passes in the validation context with the channel
registry; this module imports no destination, so destinations can read these types.
Credentials are names of environment variables: their values are read only when a sync
runs (DestinationConfig.credential) and never appear in an error.
"""

from __future__ import annotations

import os
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from activation.channels import ChannelRegistry
from activation.errors import ConfigError
from activation.http import RateLimit

SYNC_KINDS = ("state", "message")
SYNC_MODES = ("upsert", "mirror", "add-only")
DEFAULT_MERGE_LOG = "marts.fct_person_merges"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RELATION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


class Strict(BaseModel):
    """Immutable, and a key the model does not declare is an error."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class DestinationSettings(Strict):
    """A destination type's `settings`: each type declares its own subclass (Destination.Settings)."""

    # Ids and phone numbers are often written unquoted in YAML.
    model_config = ConfigDict(coerce_numbers_to_str=True, populate_by_name=True)


def _context(info: ValidationInfo, name: str) -> Any:
    if not info.context or name not in info.context:
        raise TypeError("activation's configuration is validated by activation.config.parse_config")
    return info.context[name]


def _destination_type(info: ValidationInfo) -> Any:
    """The destination class of the entry being validated, or None when its type was wrong."""
    type_name = info.data.get("type")
    return None if type_name is None else _context(info, "destination_class")(type_name)


def _names(values: Any) -> str:
    return ", ".join(sorted(values)) or "none"


class DestinationConfig(Strict):
    """One provider account. Defaults (base URL, batch sizes, rate limits) come from its type."""

    name: str  # the entry's key in `destinations`
    type: str
    # CDP_DESTINATION_<NAME>_BASE_URL wins over the file, so that one file serves
    # production and local stand-ins.
    base_url: str = Field(default="", validate_default=True)
    credentials: dict[str, str] = Field(default_factory=dict, validate_default=True)  # credential -> env var
    settings: DestinationSettings = Field(default_factory=DestinationSettings, validate_default=True)
    batch_sizes: dict[str, int] = Field(default_factory=dict, validate_default=True)  # operation -> rows
    rate_limits: dict[str, RateLimit] = Field(default_factory=dict, validate_default=True)  # operation -> bucket
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=6, ge=1)
    # Asynchronous imports: how long a sync waits at its end for the provider to finish
    # the jobs it submitted (0: not at all), and the first pause between checks (it
    # doubles). Jobs still running are checked again at the start of the next run.
    job_wait_seconds: float = Field(default=60.0, ge=0)
    job_poll_seconds: float = Field(default=2.0, ge=0)

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        return _matching(name, _IDENTIFIER, "a destination's name is letters, digits and underscores")

    @field_validator("type")
    @classmethod
    def _known_type(cls, type_name: str, info: ValidationInfo) -> str:
        _context(info, "destination_class")(type_name)
        return type_name

    @field_validator("base_url")
    @classmethod
    def _resolved_base_url(cls, base_url: str, info: ValidationInfo) -> str:
        kind = _destination_type(info)
        if kind is None or "name" not in info.data:
            return base_url
        resolved = os.environ.get(f"CDP_DESTINATION_{info.data['name'].upper()}_BASE_URL") or base_url
        resolved = resolved or kind.default_base_url
        if not resolved:
            raise ValueError(f"required for type {kind.type_name} (it has no default)")
        return resolved.rstrip("/")

    @field_validator("credentials")
    @classmethod
    def _credential_names(cls, credentials: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        kind = _destination_type(info)
        if kind is None:
            return credentials
        known = (*kind.credential_names, *kind.optional_credential_names)
        unknown = [name for name in credentials if name not in known]
        if unknown:
            raise ValueError(f"{', '.join(unknown)}: not a credential of {kind.type_name} ({_names(known)})")
        missing = [name for name in kind.credential_names if name not in credentials]
        if missing:
            raise ValueError(f"need environment variable names for {', '.join(missing)}")
        kind.check_credentials(credentials)
        return credentials

    @field_validator("settings", mode="before")
    @classmethod
    def _typed_settings(cls, settings: Any, info: ValidationInfo) -> DestinationSettings:
        kind = _destination_type(info)
        if kind is None:
            return DestinationSettings()
        if isinstance(settings, DestinationSettings):
            return settings
        return kind.Settings.model_validate({} if settings is None else settings)

    @field_validator("batch_sizes")
    @classmethod
    def _batch_sizes(cls, sizes: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        kind = _destination_type(info)
        if kind is None:
            return sizes
        limits = kind.default_batch_sizes | kind.max_batch_sizes
        for operation, size in sizes.items():
            limit = limits.get(operation)
            if limit is None:
                raise ValueError(f"{operation} is not an operation of {kind.type_name} ({_names(limits)})")
            if not 1 <= size <= limit:
                raise ValueError(f"{operation} must be an integer from 1 to the provider's limit {limit}")
        return {**kind.default_batch_sizes, **sizes}

    @field_validator("rate_limits")
    @classmethod
    def _rate_limits(cls, limits: dict[str, RateLimit], info: ValidationInfo) -> dict[str, RateLimit]:
        kind = _destination_type(info)
        if kind is None:
            return limits
        unknown = [operation for operation in limits if operation not in kind.default_rate_limits]
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)}: not an operation of {kind.type_name} ({_names(kind.default_rate_limits)})"
            )
        return {**kind.default_rate_limits, **limits}

    def credential(self, name: str) -> str:
        """The secret's value from its environment variable; the error names only the variable."""
        variable = self.credentials.get(name)
        if not variable:
            raise ConfigError(
                f"destination {self.name!r}: credentials.{name} (an environment variable name) is not configured"
            )
        value = os.environ.get(variable)
        if not value:
            raise ConfigError(f"destination {self.name!r}: environment variable {variable} is not set")
        return value


class JoinConfig(Strict):
    """Extra columns looked up by person_id, e.g. addresses from dim_persons for the plan."""

    relation: str
    columns: tuple[str, ...] = Field(min_length=1)
    on: str = "person_id"

    @field_validator("relation")
    @classmethod
    def _relation(cls, relation: str) -> str:
        return _matching(relation, _RELATION, "must be schema.relation, e.g. marts.dim_persons")

    @field_validator("columns", "on")
    @classmethod
    def _plain_columns(cls, columns: tuple[str, ...] | str) -> tuple[str, ...] | str:
        return _columns(columns)


def _matching(value: str, pattern: re.Pattern, message: str) -> str:
    if not pattern.match(value):
        raise ValueError(message)
    return value


def _columns(columns: tuple[str, ...] | str) -> tuple[str, ...] | str:
    for column in (columns,) if isinstance(columns, str) else columns:
        _matching(column, _IDENTIFIER, f"column name {column!r} is not a plain identifier")
    return columns


class SyncConfig(Strict):
    name: str
    source: str  # schema.relation, a sync_* model
    destination: str
    kind: str
    mode: str  # default: upsert for state syncs, add-only for message syncs
    key: str  # default: person_id for state syncs, message_key for message syncs
    fields: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    # State syncs: the channels whose marketing consent a membership rests on. Re-read at sync
    # time (the build's consents and any recorded since): a person granted on none of them leaves
    # the list, and a revoked channel's consent field in the payload turns false.
    consent_channels: tuple[str, ...] = ()
    join: JoinConfig | None = None
    # A sync that would remove more than this share of the keys it manages is refused.
    max_remove_share: float = Field(default=0.20, ge=0, le=1)

    @model_validator(mode="before")
    @classmethod
    def _defaults_by_kind(cls, entry: Any) -> Any:
        if not isinstance(entry, dict):
            return entry
        state = entry.get("kind") == "state"
        return {"mode": "upsert" if state else "add-only", "key": "person_id" if state else "message_key", **entry}

    @field_validator("name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        return _matching(name, _IDENTIFIER, "a sync's name is letters, digits and underscores")

    @field_validator("source")
    @classmethod
    def _relation(cls, source: str) -> str:
        return _matching(source, _RELATION, "must be schema.relation, e.g. marts.sync_klaviyo__members")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in SYNC_KINDS:
            raise ValueError(f"must be one of {', '.join(SYNC_KINDS)}")
        return kind

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, mode: str) -> str:
        if mode not in SYNC_MODES:
            raise ValueError(f"must be one of {', '.join(SYNC_MODES)}")
        return mode

    @field_validator("key", "fields")
    @classmethod
    def _plain_columns(cls, columns: tuple[str, ...] | str) -> tuple[str, ...] | str:
        return _columns(columns)

    @model_validator(mode="after")
    def _kind_rules(self, info: ValidationInfo) -> SyncConfig:
        registry: ChannelRegistry = _context(info, "channels")
        if self.kind == "state":
            if self.channels:
                raise ValueError("channels apply to message syncs only (a state sync names consent_channels)")
            if not self.fields:
                raise ValueError("a state sync lists the fields it sends")
            unknown = [channel for channel in self.consent_channels if channel not in registry]
            if unknown:
                raise ValueError(
                    f"unknown consent_channels {', '.join(unknown)} "
                    f"(the registry cdp__channels has {', '.join(registry.names)})"
                )
            return self
        if self.consent_channels:
            raise ValueError("consent_channels apply to state syncs only (a message sync names channels)")
        if self.mode != "add-only":
            raise ValueError("message syncs only add (each message is sent once); mode must be add-only")
        if self.key != "message_key":
            raise ValueError("message syncs are keyed by message_key")
        if not self.channels:
            raise ValueError(f"a message sync names its channels ({', '.join(registry.names)})")
        unknown = [channel for channel in self.channels if channel not in registry]
        if unknown:
            raise ValueError(
                f"unknown channels {', '.join(unknown)} (the registry cdp__channels has {', '.join(registry.names)})"
            )
        return self


class ConsentConfig(Strict):
    """Where a message sync reads the latest consents just before it sends (see docs/activation.md)."""

    # The latest consent per person, channel and purpose as of the last build: what the plan used.
    resolved: str = "intermediate.int_person_consents_resolved"
    # Each consent event as staged (its source, for `cdp explain`).
    events: str = "staging.stg_privacy__consents"
    # The identity graph that resolves a consent event's subject to a person.
    identifiers: str = "marts.bdg_person_identifiers"
    # Consent events recorded since the build, in the raw contract's columns (subject_type,
    # subject_value, channel, purpose, status, recorded_at, source): a table the operator
    # points to, and/or a CSV file (`cdp sync --consents FILE` sets the file for one run).
    new_events_relation: str | None = None
    new_events_file: str | None = None

    @field_validator("resolved", "events", "identifiers", "new_events_relation")
    @classmethod
    def _relation(cls, relation: str | None) -> str | None:
        return None if relation is None else _matching(relation, _RELATION, "must be schema.table")


class ActivationConfig(Strict):
    destinations: dict[str, DestinationConfig] = {}
    syncs: tuple[SyncConfig, ...] = ()
    # Identity merges (loser_person_id, winner_person_id, merged_at, link); None: no merges.
    merge_log: str | None = DEFAULT_MERGE_LOG
    # A message sync refuses a plan built longer ago than this (its plan_built_at against the sync's now):
    # an old plan may send what is no longer true (a goal met, consent revoked).
    max_plan_age_hours: float = Field(default=6.0, ge=0)
    consents: ConsentConfig = Field(default_factory=ConsentConfig)
    # Relations of persons erased in the warehouse (person_id, is_erased): deleted at every
    # destination that has a delete or privacy operation, from what activation state kept.
    # One relation or a list; null: no erasure.
    erasures: tuple[str, ...] = ("marts.dim_persons",)
    _channels: ChannelRegistry = PrivateAttr()

    @field_validator("merge_log")
    @classmethod
    def _relation(cls, relation: str | None) -> str | None:
        return None if relation is None else _matching(relation, _RELATION, "must be schema.table or null")

    @field_validator("erasures", mode="before")
    @classmethod
    def _relations(cls, relations: Any) -> Any:
        if relations is None:
            return ()
        relations = [relations] if isinstance(relations, str) else relations
        if isinstance(relations, list | tuple):
            return tuple(_matching(r, _RELATION, "must be schema.table, a list of them, or null") for r in relations)
        return relations

    @field_validator("destinations", mode="before")
    @classmethod
    def _named(cls, destinations: Any) -> Any:
        """Each entry learns its name (its key); a `name` of its own would be ignored, so it is refused."""
        if destinations is None:
            return {}
        if not isinstance(destinations, dict):
            return destinations
        named = {}
        for name, entry in destinations.items():
            if isinstance(entry, dict) and "name" in entry:
                raise ValueError(f"{name}.name: unknown key (a destination's name is its key)")
            named[name] = {**(entry or {}), "name": str(name)} if isinstance(entry, dict | None) else entry
        return named

    @field_validator("syncs", mode="before")
    @classmethod
    def _no_syncs(cls, syncs: Any) -> Any:
        return () if syncs is None else syncs

    @model_validator(mode="after")
    def _syncs_fit_their_destinations(self, info: ValidationInfo) -> ActivationConfig:
        destination_class = _context(info, "destination_class")
        registry: ChannelRegistry = _context(info, "channels")
        names = [s.name for s in self.syncs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"sync names must be unique, repeated: {', '.join(repeated)}")
        for index, sync in enumerate(self.syncs):
            where = f"syncs[{index}] ({sync.name})"
            if sync.destination not in self.destinations:
                raise ValueError(f"{where}: destination {sync.destination!r} is not configured")
            kind = destination_class(self.destinations[sync.destination].type)
            if sync.kind == "state":
                if not kind.supports_state:
                    raise ValueError(f"{where}: destination type {kind.type_name} takes messages only, not state syncs")
                missing = [c for c in kind.required_state_fields if c not in sync.fields]
                if missing:
                    raise ValueError(f"{where}: {kind.type_name} state syncs need fields {', '.join(missing)}")
            else:
                sends = kind.supported_channels(registry)
                unsupported = [c for c in sync.channels if c not in sends]
                if unsupported:
                    raise ValueError(
                        f"{where}: {kind.type_name} cannot send {', '.join(unsupported)} (it sends {_names(sends)})"
                    )
        self._channels = registry
        return self

    @property
    def channels(self) -> ChannelRegistry:
        """The channel registry the syncs were checked against."""
        return self._channels

    def syncs_for(self, destination: str | None) -> list[SyncConfig]:
        if destination is not None and destination not in self.destinations:
            raise ConfigError(f"unknown destination {destination!r} (configured: {_names(self.destinations)})")
        return [s for s in self.syncs if destination is None or s.destination == destination]
