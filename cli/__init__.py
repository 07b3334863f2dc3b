"""The ``mmrag`` command line. One module per group of verbs; each registers on the shared typer app.

Every start (``mmrag --help`` included) imports all command modules and typer reads every command's signature,
so the modules stay light: rich, the library and the models are imported inside the functions that use them,
and the modules that define commands do not use ``from __future__ import annotations`` (typer would evaluate
~700 annotation strings at each start, ~30 ms CPU; names imported only for type checking are quoted instead).
tests/cli/test_startup.py holds both rules.
"""

from __future__ import annotations

import atexit
import importlib

from .startup import few_collections, freeze_at_exit

_COMMAND_MODULES = ("library_cmds", "search_cmds", "ask", "generate", "ui_cmd", "feedback_cmd", "maintenance",
                    "backup_cmd", "serve_cmd", "keys_cmd", "trash_cmd")

with few_collections():  # typer and the command modules: ~20 ms CPU of collections that free nothing
    from .common import app

    for _name in _COMMAND_MODULES:
        try:
            importlib.import_module(f"{__name__}.{_name}")
        except ModuleNotFoundError as exc:  # a command group whose module is not part of this build
            if exc.name != f"{__name__}.{_name}":
                raise

atexit.register(freeze_at_exit)  # runs before the interpreter's final collections (see freeze_at_exit)

__all__ = ["app"]
