"""Pieces every CLI command shares: the app, the --library/--json options, output helpers."""

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

if TYPE_CHECKING:
    from rich.console import Console

    from ..library import Library

app = typer.Typer(
    name="mmrag",
    help="Semantic search, RAG and retrieval-guided generation over folders of images and documents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain click help: flags without "<bool>", paths and globs printed as typed
)


class _LazyConsole:
    """A rich Console made on first use: `import rich.console` costs ~55 ms CPU that `mmrag --help`, `--version`
    and a command that fails before printing need not pay. Every attribute is the real Console's."""

    def __init__(self, *, stderr: bool) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._made(), name)

    def __enter__(self) -> "Console":  # `with console:` in rich's Live (progress bars): dunders skip __getattr__
        return self._made().__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._made().__exit__(*exc)

    def _made(self) -> "Console":
        if self._console is None:
            from rich.console import Console

            # soft_wrap: lines are never wrapped by us, so a long path stays whole (the terminal wraps it)
            self._console = Console(stderr=self._stderr, soft_wrap=True)
        return self._console


console = cast("Console", _LazyConsole(stderr=True))
out = cast("Console", _LazyConsole(stderr=False))


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
# Models: the settings clip_model / clip_pretrained / device (MMRAG_CLIP_MODEL ...), for commands that load them.
ClipModelOption = Annotated[str | None, typer.Option(
    "--clip-model", metavar="NAME", help="open_clip model: a name (ViT-B-32), local-dir:PATH or tiny-test "
                                         "(default: the model the library was made with).")]
ClipPretrainedOption = Annotated[str | None, typer.Option(
    "--clip-pretrained", metavar="TAG|FILE", help="open_clip pretrained tag or weights file.")]
DeviceOption = Annotated[str | None, typer.Option(
    "--device", metavar="DEVICE", help="auto | cpu | cuda | cuda:N | mps.")]


def model_settings(clip_model: str | None, clip_pretrained: str | None, device: str | None) -> dict[str, str]:
    """The model options a command was given, as settings overrides (absent ones are left to the settings)."""
    given = {"clip_model": clip_model, "clip_pretrained": clip_pretrained, "device": device}
    return {key: value for key, value in given.items() if value is not None}


def open_library(library: Path | None, *, create: bool = False, **overrides: Any) -> "Library":
    """Build the settings at the edge and open the library, turning known failures into clean exits.
    ``create``: the command may make a new library (ingest, generate, ui); read commands may not."""
    from ..library import Library

    try:
        kwargs = {"library": library} if library is not None else {}
        if not create:
            require_library(library, **overrides)
        return Library(**kwargs, **overrides)
    except Exception as exc:  # noqa: BLE001 - reported, not swallowed
        fail(_named_settings_error(exc, overrides, library))
        raise  # unreachable: fail() exits


def require_library(library: Path | None, **overrides: Any) -> None:
    """Raise ValueError unless the folder already is a library (its catalog or mmrag.toml is there), so that a
    typo in --library is an error rather than a new, empty library."""
    from ..settings import SETTINGS_FILE, Settings

    settings = Settings(**({"library": library} if library is not None else {}), **overrides)
    url = settings.resolved_database_url
    catalog = Path(url.removeprefix("sqlite:///")) if url.startswith("sqlite:///") else None
    if (settings.library / SETTINGS_FILE).is_file() or (catalog.is_file() if catalog else settings.library.is_dir()):
        return
    raise ValueError(f"{str(settings.library)!r} is not an mmrag library (nothing was ingested there); check "
                     f"--library / MMRAG_LIBRARY, or make it one: mmrag ingest FOLDER --library {settings.library}")


def _named_settings_error(exc: Exception, flags: dict[str, Any], library: Path | None) -> Exception:
    """A pydantic error about a setting, retold naming the option, variable or file that gave the value."""
    from pydantic import ValidationError

    from .settings_errors import explain

    return ValueError(explain(exc, flags, library)) if isinstance(exc, ValidationError) else exc


@contextmanager
def opened_library(library: Path | None, *, create: bool = False, **overrides: Any) -> Iterator["Library"]:
    """Open the library for one command and close it after; a known failure, while opening or inside the
    ``with`` block, ends the command with a clean message and exit code 1 (no traceback)."""
    lib = open_library(library, create=create, **overrides)
    try:
        with reported():
            yield lib
    finally:
        lib.close()


@contextmanager
def reported() -> Iterator[None]:
    """A known failure inside the block (see ``fail``) ends the command with a clean message and exit code 1;
    anything else propagates. For the work of a command that has no library open (``--server``, restore)."""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - fail() exits cleanly on known errors, re-raises the rest
        fail(exc)


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
    from rich.text import Text

    console.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True, highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str, ensure_ascii=False) + "\n")
