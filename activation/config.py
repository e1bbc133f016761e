"""Activation configuration: destinations and the syncs that feed them.

Read from `activation.yml` in the project (or the file named by CDP_ACTIVATION_CONFIG).
Credentials are never in the file: it names environment variables, and the values are
read only when a destination is built for a real run. Batch sizes and rate limits
default to each provider's documented values (declared in its destination module) and
can be overridden per destination.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SYNC_KINDS = ("state", "message")
SYNC_MODES = ("upsert", "mirror", "add-only")
CHANNELS = ("email", "sms", "whatsapp", "app_push", "web_push")
DEFAULT_MAX_REMOVE_SHARE = 0.20
DEFAULT_MERGE_LOG = "marts.fct_person_merges"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RELATION = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """The activation configuration is unusable; the message names the entry and field."""


@dataclass(frozen=True)
class RateLimit:
    """A token bucket: `per_second` steady refill, `burst` requests at once."""

    per_second: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_second <= 0 or self.burst < 1:
            raise ConfigError(f"rate limit needs per_second > 0 and burst >= 1, got {self}")


@dataclass(frozen=True)
class DestinationConfig:
    name: str
    type: str
    base_url: str
    credentials: dict[str, str] = field(default_factory=dict)  # credential name -> env var name
    settings: dict[str, Any] = field(default_factory=dict)
    batch_sizes: dict[str, int] = field(default_factory=dict)  # operation -> rows per request
    rate_limits: dict[str, RateLimit] = field(default_factory=dict)  # operation -> bucket
    timeout_seconds: float = 30.0
    max_attempts: int = 6
    # Asynchronous imports: how long a sync waits at its end for the provider to finish
    # the jobs it submitted (0: not at all), and the first pause between checks (it
    # doubles). Jobs still running are checked again at the start of the next run.
    job_wait_seconds: float = 60.0
    job_poll_seconds: float = 2.0

    def credential(self, name: str) -> str:
        """The secret's value from its environment variable; the error names only the variable."""
        variable = self.credentials.get(name)
        if not variable:
            raise ConfigError(f"destination {self.name!r}: credentials.{name} (an environment variable name) is not configured")
        value = os.environ.get(variable)
        if not value:
            raise ConfigError(f"destination {self.name!r}: environment variable {variable} is not set")
        return value


@dataclass(frozen=True)
class JoinConfig:
    """Extra columns looked up by person_id, e.g. addresses from dim_persons for the plan."""

    relation: str
    columns: tuple[str, ...]
    on: str = "person_id"


@dataclass(frozen=True)
class SyncConfig:
    name: str
    source: str
    destination: str
    kind: str
    mode: str = "upsert"
    key: str = "person_id"
    fields: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    join: JoinConfig | None = None
    max_remove_share: float = DEFAULT_MAX_REMOVE_SHARE


@dataclass(frozen=True)
class ActivationConfig:
    destinations: dict[str, DestinationConfig]
    syncs: tuple[SyncConfig, ...]
    merge_log: str = DEFAULT_MERGE_LOG
    source_path: Path | None = None

    def syncs_for(self, destination: str | None) -> list[SyncConfig]:
        if destination is not None and destination not in self.destinations:
            known = ", ".join(sorted(self.destinations)) or "none"
            raise ConfigError(f"unknown destination {destination!r} (configured: {known})")
        return [s for s in self.syncs if destination is None or s.destination == destination]


def config_path() -> Path:
    configured = os.environ.get("CDP_ACTIVATION_CONFIG")
    if configured:
        return Path(configured)
    from cdp.paths import project_dir

    return project_dir() / "activation.yml"


def load_config(path: Path | None = None) -> ActivationConfig:
    path = Path(path) if path else config_path()
    if not path.is_file():
        raise ConfigError(f"activation configuration {path} does not exist")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    return parse_config(document, source_path=path)


def parse_config(document: dict[str, Any], source_path: Path | None = None) -> ActivationConfig:
    where = str(source_path or "activation config")
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: expected a mapping with 'destinations' and 'syncs'")
    destinations = {
        name: _destination(name, entry or {}, where)
        for name, entry in (document.get("destinations") or {}).items()
    }
    syncs = tuple(_sync(index, entry or {}, destinations, where) for index, entry in enumerate(document.get("syncs") or []))
    names = [s.name for s in syncs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{where}: sync names must be unique, repeated: {', '.join(duplicates)}")
    merge_log = document.get("merge_log", DEFAULT_MERGE_LOG)
    if merge_log is not None and not _RELATION.match(str(merge_log)):
        raise ConfigError(f"{where}: merge_log must be schema.table, got {merge_log!r}")
    return ActivationConfig(destinations=destinations, syncs=syncs, merge_log=merge_log, source_path=source_path)


def _destination(name: str, entry: dict[str, Any], where: str) -> DestinationConfig:
    from activation.destinations import destination_class

    context = f"{where}: destination {name!r}"
    if not _IDENTIFIER.match(name):
        raise ConfigError(f"{context}: name must be letters, digits and underscores")
    type_name = entry.get("type")
    cls = destination_class(type_name, context)
    # An environment variable wins over the file so one config serves production and local stand-ins.
    base_url = os.environ.get(f"CDP_DESTINATION_{name.upper()}_BASE_URL") or entry.get("base_url") or cls.default_base_url
    if not base_url:
        raise ConfigError(f"{context}: base_url is required")
    rate_limits = dict(cls.default_rate_limits)
    for operation, limit in (entry.get("rate_limits") or {}).items():
        if operation not in cls.default_rate_limits:
            raise ConfigError(f"{context}: rate_limits.{operation} is not an operation of {type_name} ({', '.join(cls.default_rate_limits)})")
        try:
            rate_limits[operation] = RateLimit(float(limit["per_second"]), int(limit.get("burst", 1)))
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"{context}: rate_limits.{operation} needs per_second (and optional burst): {error}") from error
    batch_sizes = dict(cls.default_batch_sizes)
    for operation, size in (entry.get("batch_sizes") or {}).items():
        limit = cls.default_batch_sizes.get(operation)
        if limit is None:
            raise ConfigError(f"{context}: batch_sizes.{operation} is not an operation of {type_name} ({', '.join(cls.default_batch_sizes)})")
        if not isinstance(size, int) or not 1 <= size <= limit:
            raise ConfigError(f"{context}: batch_sizes.{operation} must be an integer from 1 to the provider's limit {limit}")
        batch_sizes[operation] = size
    credentials = dict(entry.get("credentials") or {})
    missing = [c for c in cls.credential_names if c not in credentials]
    if missing:
        raise ConfigError(f"{context}: credentials need environment variable names for {', '.join(missing)}")
    config = DestinationConfig(
        name=name,
        type=type_name,
        base_url=str(base_url).rstrip("/"),
        credentials=credentials,
        settings=dict(entry.get("settings") or {}),
        batch_sizes=batch_sizes,
        rate_limits=rate_limits,
        timeout_seconds=float(entry.get("timeout_seconds", 30.0)),
        max_attempts=int(entry.get("max_attempts", 6)),
        job_wait_seconds=_non_negative(entry, "job_wait_seconds", 60.0, context),
        job_poll_seconds=_non_negative(entry, "job_poll_seconds", 2.0, context),
    )
    cls.check_settings(config, context)
    return config


def _non_negative(entry: dict[str, Any], name: str, default: float, context: str) -> float:
    try:
        value = float(entry.get(name, default))
    except (TypeError, ValueError):
        value = -1.0
    if value < 0:
        raise ConfigError(f"{context}: {name} must be a number of seconds, 0 or more")
    return value


def _sync(index: int, entry: dict[str, Any], destinations: dict[str, DestinationConfig], where: str) -> SyncConfig:
    from activation.destinations import destination_class

    name = entry.get("name")
    context = f"{where}: syncs[{index}]" + (f" ({name})" if name else "")
    if not name or not _IDENTIFIER.match(str(name)):
        raise ConfigError(f"{context}: name is required (letters, digits, underscores)")
    source = entry.get("source")
    if not source or not _RELATION.match(str(source)):
        raise ConfigError(f"{context}: source must be schema.relation, e.g. marts.sync_klaviyo__members")
    destination = entry.get("destination")
    if destination not in destinations:
        raise ConfigError(f"{context}: destination {destination!r} is not configured")
    kind = entry.get("kind")
    if kind not in SYNC_KINDS:
        raise ConfigError(f"{context}: kind must be one of {', '.join(SYNC_KINDS)}")
    mode = entry.get("mode", "upsert" if kind == "state" else "add-only")
    if mode not in SYNC_MODES:
        raise ConfigError(f"{context}: mode must be one of {', '.join(SYNC_MODES)}")
    cls = destination_class(destinations[destination].type, context)
    key = entry.get("key", "person_id" if kind == "state" else "message_key")
    fields = tuple(entry.get("fields") or ())
    for column in (key, *fields):
        if not _IDENTIFIER.match(str(column)):
            raise ConfigError(f"{context}: column name {column!r} is not a plain identifier")
    channels = tuple(entry.get("channels") or ())
    if kind == "state":
        if not cls.supports_state:
            raise ConfigError(f"{context}: destination type {cls.type_name} takes messages only, not state syncs")
        if channels:
            raise ConfigError(f"{context}: channels apply to message syncs only")
        if not fields:
            raise ConfigError(f"{context}: a state sync lists the fields it sends")
        missing = [c for c in cls.required_state_fields if c not in fields]
        if missing:
            raise ConfigError(f"{context}: {cls.type_name} state syncs need fields {', '.join(missing)}")
    else:
        if mode != "add-only":
            raise ConfigError(f"{context}: message syncs only add (each message is sent once); mode must be add-only")
        if key != "message_key":
            raise ConfigError(f"{context}: message syncs are keyed by message_key")
        if not channels:
            raise ConfigError(f"{context}: a message sync names its channels ({', '.join(CHANNELS)})")
        unsupported = [c for c in channels if c not in cls.channels]
        if unsupported:
            raise ConfigError(f"{context}: {cls.type_name} cannot send {', '.join(unsupported)} (it sends {', '.join(sorted(cls.channels))})")
    join = None
    if entry.get("join"):
        spec = entry["join"]
        if not _RELATION.match(str(spec.get("relation", ""))) or not spec.get("columns"):
            raise ConfigError(f"{context}: join needs relation (schema.relation) and columns")
        join = JoinConfig(relation=spec["relation"], columns=tuple(spec["columns"]), on=spec.get("on", "person_id"))
    share = float(entry.get("max_remove_share", DEFAULT_MAX_REMOVE_SHARE))
    if not 0 <= share <= 1:
        raise ConfigError(f"{context}: max_remove_share must be between 0 and 1")
    return SyncConfig(
        name=name, source=source, destination=destination, kind=kind, mode=mode, key=key,
        fields=fields, channels=channels, join=join, max_remove_share=share,
    )
