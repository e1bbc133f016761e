"""The error every configuration problem becomes, and how pydantic's findings are worded.

A message names the file, where in it (the key path) and what is wrong; never a value,
since a value in the wrong place may be a secret.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError


class ConfigError(ValueError):
    """The configuration is unusable; the message names the file, the entry and the key."""


_MESSAGES = {"extra_forbidden": "unknown key", "missing": "required"}


def config_error(error: ValidationError, where: str, document: Any = None, prefix: str = "") -> ConfigError:
    """One ConfigError for every problem pydantic found in ``document`` (read from ``where``).

    ``prefix`` is the key path of ``document`` inside its file, e.g. `vars.cdp__channels`.
    """
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        location = _location(problem["loc"], document)
        if prefix:
            location = prefix + (location if location.startswith("[") or not location else f".{location}")
        message = _MESSAGES.get(problem["type"], problem["msg"].removeprefix("Value error, "))
        problems.append(f"{location}: {message}" if location else message)
    if len(problems) == 1:
        return ConfigError(f"{where}: {problems[0]}")
    return ConfigError(f"{where}: {len(problems)} problems:\n  " + "\n  ".join(problems))


def _location(loc: tuple, document: Any) -> str:
    """`syncs[0] (members).kind` for ('syncs', 0, 'kind'); entries are labelled with their name.

    Parts that are not keys of the document (pydantic's names for the type it tried) are
    left out, except the last, which may be a key that is missing.
    """
    text, node = "", document
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
            text += f"[{part}]"
            if isinstance(node, dict) and isinstance(node.get("name"), str):
                text += f" ({node['name']})"
        elif (isinstance(node, dict) and part in node) or last:
            node = node.get(part) if isinstance(node, dict) else None
            text += f".{part}" if text else str(part)
    return text
