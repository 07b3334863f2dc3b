"""``mmrag keys add|list|revoke``: API keys of the REST service, stored hashed in the library's catalog."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from .common import JsonOption, LibraryOption, app, console, fail, out, print_json, require_library

if TYPE_CHECKING:
    from ..catalog import Catalog

keys_app = typer.Typer(help="API keys for `mmrag serve` (read: search/ask/assets/status; write: also ingest, "
                            "generate, tag, remove).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _catalog(library: Path | None) -> Catalog:
    """The library's catalog alone (no models load); a folder that is not a library is an error."""
    from ..catalog import Catalog
    from ..settings import Settings

    require_library(library)
    settings = Settings(**({"library": library} if library is not None else {}))
    return Catalog(settings.resolved_database_url)


@keys_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Who or what uses the key.")],
    scope: Annotated[str, typer.Option("--scope", help="read | write (write includes read).")] = "read",
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Make a key. It is printed once; the library keeps only its hash."""
    from ..serve.keys import add_key

    try:
        catalog = _catalog(library)
        secret, info = add_key(catalog, name, scope)
        catalog.dispose()
    except Exception as exc:  # noqa: BLE001
        fail(exc)
        return
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

    try:
        catalog = _catalog(library)
        keys = list_keys(catalog)
        catalog.dispose()
    except Exception as exc:  # noqa: BLE001
        fail(exc)
        return
    if json:
        print_json([key.to_dict() for key in keys])
        return
    if not keys:
        out.print("no API keys (make one with `mmrag keys add NAME`)")
        return
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

    try:
        catalog = _catalog(library)
        info = revoke_key(catalog, key)
        catalog.dispose()
    except Exception as exc:  # noqa: BLE001
        fail(exc)
        return
    out.print(f"revoked key {info.name!r} (id {info.id})")
