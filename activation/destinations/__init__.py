"""Destinations, one module each: `type: NAME` in activation.yml loads the module
`activation.destinations.NAME` and its Destination subclass whose type_name is NAME, so
a new destination is one module plus one configuration entry (and its stand-in,
activation/standins/NAME.py, found the same way)."""

from __future__ import annotations

import importlib
import pkgutil
import re

from activation.destinations.base import Destination
from activation.errors import ConfigError

_MODULE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def available_types() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name != "base" and not m.name.startswith("_"))


def destination_class(type_name: object) -> type[Destination]:
    """The Destination subclass for ``type_name``; ConfigError names the types there are."""
    if not isinstance(type_name, str) or not _MODULE_NAME.match(type_name) or type_name not in available_types():
        raise ConfigError(f"unknown destination type {type_name!r} (available: {', '.join(available_types())})")
    module = importlib.import_module(f"{__name__}.{type_name}")
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, Destination)
            and getattr(value, "type_name", None) == type_name
        ):
            return value
    raise ConfigError(f"module {module.__name__} defines no Destination whose type_name is {type_name!r}")
