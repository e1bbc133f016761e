"""Destinations, one module each: `type: NAME` in activation.yml loads the module
`activation.destinations.NAME` and its Destination subclass whose type_name is NAME, so
a new destination is one module plus one configuration entry."""

from __future__ import annotations

import importlib
import pkgutil
import re

from activation.config import ConfigError
from activation.destinations.base import Destination

_MODULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def available_types() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base" and not m.name.startswith("_"))


def destination_class(type_name: object, context: str = "destination") -> type[Destination]:
    if not isinstance(type_name, str) or not _MODULE_NAME.match(type_name) or type_name == "base":
        raise ConfigError(f"{context}: type must be one of {', '.join(available_types())}, got {type_name!r}")
    try:
        module = importlib.import_module(f"{__name__}.{type_name}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{type_name}":
            raise
        raise ConfigError(f"{context}: unknown type {type_name!r} (available: {', '.join(available_types())})") from None
    for value in vars(module).values():
        if isinstance(value, type) and issubclass(value, Destination) and getattr(value, "type_name", None) == type_name:
            return value
    raise ConfigError(f"{context}: module for {type_name!r} defines no Destination with type_name {type_name!r}")
