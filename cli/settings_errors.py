"""A bad setting told the way the user gave it: the command-line option, the ``MMRAG_*`` variable or the
library's ``mmrag.toml`` — one line per problem, without pydantic's error codes and URLs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..settings import ENV_PREFIX, SETTINGS_FILE


def explain(exc: Any, flags: Mapping[str, Any], library: Path | None) -> str:
    """One line per error of a pydantic ValidationError raised while building Settings. ``flags``: the
    settings the command line gave (keyword overrides); ``library``: the library folder, if given."""
    return "; ".join(_one(error, flags, library) for error in exc.errors())


def _one(error: Mapping[str, Any], flags: Mapping[str, Any], library: Path | None) -> str:
    loc = [str(part) for part in error.get("loc", ()) if not isinstance(part, int)]
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if not loc:  # a whole-object check (e.g. an unknown key): its message already names the key
        return message
    value = error.get("input")
    return f"{_source(loc, flags, library)} = {value!r}: {message}"


def _source(loc: list[str], flags: Mapping[str, Any], library: Path | None) -> str:
    if _given(flags, loc):
        return "--" + loc[-1].replace("_", "-") if len(loc) == 1 else f"setting {'.'.join(loc)}"
    variable = ENV_PREFIX + "__".join(loc).upper()
    if variable in os.environ:
        return f"environment variable {variable}"
    toml = (library or Path(os.environ.get(ENV_PREFIX + "LIBRARY", "."))) / SETTINGS_FILE
    return f"{'.'.join(loc)} in {toml}" if toml.is_file() else f"setting {'.'.join(loc)}"


def _given(flags: Mapping[str, Any], loc: list[str]) -> bool:
    current: Any = flags
    for part in loc:
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return True
