"""``mmrag keys add|list|revoke``: API keys of the REST service, stored hashed in the library's catalog."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from .common import JsonOption, LibraryOption, app, console, out, print_json, reported, require_library

if TYPE_CHECKING:
    from ..catalog import Catalog

keys_app = typer.Typer(help="API keys for `mmrag serve` (read: search/ask/assets/status; write: also ingest, "
                            "generate, tag, remove).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@contextmanager
def _catalog(library: Path | None) -> Iterator["Catalog"]:
    """The library's catalog alone (no models load) for one command, closed after; a folder that is not a
    library, or any known failure inside the block, ends the command with a clean message and exit code 1."""
    from ..catalog import Catalog
    from ..settings import Settings

    with reported():
        require_library(library)
        settings = Settings(**({"library": library} if library is not None else {}))
        catalog = Catalog(settings.resolved_database_url)
        try:
            yield catalog
        finally:
            catalog.dispose()


@keys_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Who or what uses the key.")],
    scope: Annotated[str, typer.Option("--scope", help="read | write (write includes read).")] = "read",
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Make a key. It is printed once; the library keeps only its hash."""
    from ..serve.keys import add_key

    with _catalog(library) as catalog:
        secret, info = add_key(catalog, name, scope)
    if json:
        print_json({"key": secret, **info.to_dict()})
        return
    out.print(secret, highlight=False)
    console.print(f"key {info.name!r} ({', '.join(info.scopes)}): shown once, store it now; "
                  f"clients send it as 'Authorization: Bearer <key>' or MMRAG_API_KEY", highlight=False)


@keys_app.command("list")
def list_(library: LibraryOption = None, json: JsonOption = False) -> None:
    """Keys with their scopes and state (never the secret)."""
    from ..serve.keys import list_keys

    with _catalog(library) as catalog:
        keys = list_keys(catalog)
    if json:
        print_json([key.to_dict() for key in keys])
        return
    if not keys:
        out.print("no API keys (make one with `mmrag keys add NAME`)")
        return
    from rich.table import Table

    table = Table("id", "name", "prefix", "scopes", "created", "state", box=None)
    for key in keys:
        table.add_row(str(key.id), key.name, key.prefix + "…", ",".join(key.scopes),
                      key.created_at.strftime("%Y-%m-%d %H:%M"), "active" if key.active else "revoked")
    out.print(table)


@keys_app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="Name or id of the key.")],
    library: LibraryOption = None,
) -> None:
    """Revoke a key; a running server refuses it within a second."""
    from ..serve.keys import revoke_key

    with _catalog(library) as catalog:
        info = revoke_key(catalog, key)
    out.print(f"revoked key {info.name!r} (id {info.id})")
