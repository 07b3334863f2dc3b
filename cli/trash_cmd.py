"""``mmrag trash add|list|restore``: move library items' files into ``<library>/.trash/`` (never deleted) and back."""

from typing import TYPE_CHECKING, Annotated

import typer

from .common import JsonOption, LibraryOption, app, out, print_json
from .common import opened_library as _opened

if TYPE_CHECKING:
    from ..ingest.trash import TrashItem

trash_app = typer.Typer(help="Move library items' files to the library's trash folder and back (undo). Only "
                             "files under the library folder or serve.ingest_roots are moved; nothing is deleted.",
                        no_args_is_help=True)
app.add_typer(trash_app, name="trash")


@trash_app.command("add")
def add(
    ids: Annotated[list[int], typer.Argument(help="Library item ids to move to the trash (see `mmrag duplicates`).")],
    keep: Annotated[int | None, typer.Option("--keep", help="The copy kept instead (recorded; never moved).")] = None,
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Move items' files into <library>/.trash and drop them from search; `mmrag trash restore` undoes it."""
    with _opened(library) as lib:
        items = lib.trash(ids, keep=keep)
    _print(items, json, "moved to the trash")


@trash_app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Also list entries restored already.")] = False,
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """What is in the trash, newest first: entry id, original path, where it is now."""
    with _opened(library) as lib:
        items = lib.trash_list(include_restored=all_)
    if not items and not json:
        out.print("the trash is empty")
        return
    _print(items, json, None)


@trash_app.command("restore")
def restore(
    entries: Annotated[list[int], typer.Argument(help="Trash entry ids (see `mmrag trash list`).")],
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Move trashed files back where they were (a new name if that place is taken) and ingest them again."""
    with _opened(library) as lib:
        items = lib.restore(entries)
    _print(items, json, "restored")


def _print(items: list["TrashItem"], json: bool, verb: str | None) -> None:
    if json:
        print_json([item.to_dict() for item in items])
        return
    for item in items:
        if verb == "restored":
            line = f"  entry {item.id:>4}  restored  {item.restored_path}"
        elif item.in_trash:
            kept = f" (kept #{item.kept_id})" if item.kept_id is not None else ""
            line = f"  entry {item.id:>4}  #{item.asset_id}  {item.path}{kept}  ->  {item.trash_path}"
        else:
            line = f"  entry {item.id:>4}  #{item.asset_id}  {item.path}  (restored to {item.restored_path})"
        out.print(line, highlight=False, markup=False, emoji=False)
    if verb:
        out.print(f"{len(items)} file(s) {verb}", highlight=False)
