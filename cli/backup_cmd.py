"""Backup verbs: backup (a consistent copy of a library) and restore (put one back)."""

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOption, LibraryOption, app, console, opened_library, out, print_json, reported


@app.command()
def backup(
    dest: Annotated[Path, typer.Argument(help="New (or empty) folder to write the backup into.")],
    library: LibraryOption = None,
    json: JsonOption = False,
) -> None:
    """Copy the catalog (SQLite online backup), index files and settings into DEST, with checksums."""
    from ..backup import backup_library

    with opened_library(library) as lib:
        manifest = backup_library(lib, dest)
    if json:
        print_json(manifest.to_dict())
        return
    counts = ", ".join(f"{name} {count}" for name, count in manifest.counts.items())
    what = f"{len(manifest.files)} files" + (f"; {counts}" if counts else "")
    out.print(f"backed up {manifest.library} into {dest} ({what})", markup=False, emoji=False, highlight=False)
    for note in manifest.notes:
        console.print(f"note: {note}", markup=False, emoji=False, highlight=False)


@app.command()
def restore(
    source: Annotated[Path, typer.Argument(help="A folder written by `mmrag backup`.")],
    library: LibraryOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing catalog (the old one is kept "
                                                        "beside it as catalog.sqlite.before-restore-*).")] = False,
    json: JsonOption = False,
) -> None:
    """Check a backup against its checksums and put it back as the library (works on a damaged catalog)."""
    from ..backup import restore_library
    from ..settings import Settings

    with reported():
        target = library if library is not None else Settings().library
        manifest = restore_library(source, target, force=force)
    if json:
        print_json(manifest.to_dict())
        return
    out.print(f"restored {target} from {source} (library id {manifest.library_id}); `mmrag doctor` checks it",
              markup=False, emoji=False, highlight=False)
