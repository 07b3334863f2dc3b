"""Pieces every CLI command shares: the app, the --library/--json options, output helpers."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.text import Text

if TYPE_CHECKING:
    from ..library import Library

app = typer.Typer(
    name="mmrag",
    help="Semantic search, RAG and retrieval-guided generation over folders of images and documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: flags without "<bool>", paths and globs printed as typed
)
console = Console(stderr=True)
out = Console()


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"mmrag {version('mmrag')}", markup=False, highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Semantic search, RAG and retrieval-guided generation over folders of images and documents."""

LibraryOption = Annotated[
    Path | None,
    typer.Option(
        "--library", "-L", envvar="MMRAG_LIBRARY", help="Library folder (default: a folder in your data dir)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout.")]


def open_library(library: Path | None, **overrides: Any) -> Library:
    """Build the settings at the edge and open the library, turning known failures into clean exits."""
    from ..library import Library

    try:
        kwargs = {"library": library} if library is not None else {}
        return Library(**kwargs, **overrides)
    except Exception as exc:  # noqa: BLE001 - reported, not swallowed
        fail(_named_settings_error(exc, overrides, library))
        raise  # unreachable: fail() exits


def _named_settings_error(exc: Exception, flags: dict[str, Any], library: Path | None) -> Exception:
    """A pydantic error about a setting, retold naming the option, variable or file that gave the value."""
    from pydantic import ValidationError

    from .settings_errors import explain

    return ValueError(explain(exc, flags, library)) if isinstance(exc, ValidationError) else exc


def fail(exc: BaseException | str, code: int = 1) -> None:
    """Print an error (no traceback for known failures) and exit."""
    from sqlalchemy.exc import OperationalError

    from ..errors import MmragError
    from ..extras import from_missing_module

    if isinstance(exc, ModuleNotFoundError):  # an optional extra that is not installed: name the extra
        exc = from_missing_module(exc) or exc
    if isinstance(exc, (MmragError, ValueError, TypeError, OSError, OperationalError)) or isinstance(exc, str):
        error(str(exc))
        raise typer.Exit(code)
    raise exc


def error(message: str) -> None:
    """``error: <message>`` on stderr; the message is printed as is (never read as Rich markup)."""
    console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True, highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
