"""The ``mmrag`` command line. One module per group of verbs; each registers on the shared typer app."""

from __future__ import annotations

import importlib

from .common import app

_COMMAND_MODULES = ("library_cmds", "search_cmds", "ask", "generate", "ui_cmd", "feedback_cmd", "maintenance",
                    "backup_cmd", "serve_cmd", "keys_cmd", "trash_cmd")

for _name in _COMMAND_MODULES:
    try:
        importlib.import_module(f"{__name__}.{_name}")
    except ModuleNotFoundError as exc:  # a command group whose module is not part of this build
        if exc.name != f"{__name__}.{_name}":
            raise

__all__ = ["app"]
