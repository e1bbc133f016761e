"""The channel registry, read from the dbt project (var `cdp__channels` in dbt_project.yml).

The models, macros and tests read the same list, so a channel is named in one place: its
consent columns in dim_persons, the column of a message row that holds its address, the
identifier types a provider's recipient is resolved through, and how intrusive it is.
The caller passes the path of the project file; activation does not look for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from activation.errors import ConfigError, config_error

REGISTRY_VAR = "cdp__channels"
_IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Channel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str = Field(pattern=_IDENTIFIER)
    consent_column: str = Field(pattern=_IDENTIFIER)
    transactional_consent_column: str = Field(pattern=_IDENTIFIER)
    # None: the provider addresses the person by person_id (OneSignal's web push).
    address_field: str | None = Field(default=None, pattern=_IDENTIFIER)
    # Identity-graph types a provider's recipient is resolved through, first match wins.
    identifier_types: tuple[str, ...] = Field(min_length=1)
    intrusiveness: int = Field(ge=1)
    # How the plan knows the person can be reached on it (int_person_channel_reachability).
    reachability: Literal["email_address", "e164_phone", "whatsapp_phone", "push_token", "browser"]


_ENTRIES = TypeAdapter(tuple[Channel, ...])


class ChannelRegistry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: tuple[Channel, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The channel names in registry order (the order of dim_persons' consent columns)."""
        return tuple(c.channel for c in self.channels)

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __getitem__(self, name: str) -> Channel:
        for channel in self.channels:
            if channel.channel == name:
                return channel
        raise KeyError(f"channel {name!r} is not in the registry ({', '.join(self.names)})")


def read_channels(project_file: Path) -> ChannelRegistry:
    """The registry in ``project_file`` (dbt_project.yml); a ConfigError names the entry and key."""
    try:
        document = yaml.safe_load(Path(project_file).read_text()) or {}
    except OSError as error:
        raise ConfigError(f"{project_file}: cannot be read ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{project_file}: not valid YAML ({error})") from None
    where = f"vars.{REGISTRY_VAR}"
    entries = (document.get("vars") or {}).get(REGISTRY_VAR) if isinstance(document, dict) else None
    if not entries:
        raise ConfigError(f"{project_file}: {where} (the channel registry) is not defined or empty")
    try:
        channels = _ENTRIES.validate_python(entries)
    except ValidationError as error:
        raise config_error(error, str(project_file), entries, prefix=where) from None
    names = [c.channel for c in channels]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(f"{project_file}: {where}: channels listed more than once: {', '.join(repeated)}")
    return ChannelRegistry(channels=channels)
