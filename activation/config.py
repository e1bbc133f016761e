"""Activation configuration: destinations and the syncs that feed them (activation.yml).

The caller names the file and the dbt project file that holds the channel registry.
Every part of the file is a pydantic model (activation.config_schema) that refuses keys
it does not declare; what depends on a destination's type is checked against its class.
Credentials are never in the file: it names environment variables, read only when a
sync runs. Batch sizes and rate limits default to each provider's documented values
(declared in its destination module) and can be lowered per destination.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from activation.channels import ChannelRegistry, read_channels
from activation.config_schema import ActivationConfig, DestinationConfig, SyncConfig
from activation.destinations import destination_class
from activation.errors import ConfigError, config_error

__all__ = [
    "ActivationConfig",
    "ConfigError",
    "DestinationConfig",
    "SyncConfig",
    "load_config",
    "parse_config",
]


def load_config(path: Path, project_file: Path) -> ActivationConfig:
    """Read ``path`` (activation.yml), checked against the channel registry of ``project_file``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"activation configuration {path} does not exist")
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    return parse_config({} if document is None else document, read_channels(project_file), where=str(path))


def parse_config(document: Any, channels: ChannelRegistry, where: str = "activation config") -> ActivationConfig:
    """The configuration in ``document`` (activation.yml's content); ConfigError names key and place."""
    if not isinstance(document, dict):
        raise ConfigError(f"{where}: expected a mapping with 'destinations' and 'syncs'")
    try:
        return ActivationConfig.model_validate(
            document, context={"destination_class": destination_class, "channels": channels}
        )
    except ValidationError as error:
        raise config_error(error, where, document) from None
