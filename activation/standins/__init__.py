"""Stand-ins for the providers, one module per destination type, found by module name as
destinations are: `activation.standins.NAME` holds the ProviderStandin subclass whose
type_name is NAME, beside `activation.destinations.NAME`.

`Standin` is the loopback server with every type's stand-in mounted: what `cdp demo`,
`cdp sync --stand-in`, the tests and `make bench-sync` run the real destinations against.
"""

from __future__ import annotations

import importlib
import pkgutil

from activation.standins.common import (
    BAD_EMAIL_MARK,
    JOB_ERROR_MARK,
    Fault,
    Limit,
    ProviderStandin,
    StandinServer,
)

__all__ = ["BAD_EMAIL_MARK", "JOB_ERROR_MARK", "Fault", "Limit", "Standin", "available_types", "standin_class"]

_SHARED = {"common"}


def available_types() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules(__path__) if m.name not in _SHARED and not m.name.startswith("_")
    )


def standin_class(type_name: str) -> type[ProviderStandin]:
    if type_name not in available_types():
        raise KeyError(f"no stand-in for destination type {type_name!r} (there are: {', '.join(available_types())})")
    module = importlib.import_module(f"{__name__}.{type_name}")
    for value in vars(module).values():
        if (
            isinstance(value, type)
            and issubclass(value, ProviderStandin)
            and getattr(value, "type_name", None) == type_name
        ):
            return value
    raise KeyError(f"module {module.__name__} defines no ProviderStandin whose type_name is {type_name!r}")


class Standin(StandinServer):
    """The stand-in server with one stand-in per destination type."""

    def __init__(self, limits: dict[str, Limit] | None = None, job_checks_pending: int = 0):
        super().__init__(
            [standin_class(name) for name in available_types()], limits=limits, job_checks_pending=job_checks_pending
        )
