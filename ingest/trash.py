"""The library's trash: files moved into ``<library>/.trash/<entry id>/<name>`` instead of being deleted.

Moving a file to the trash records where it was (``catalog.models.TrashEntry``) and drops its catalog entries
and vectors, so it leaves search at once; restoring moves it back (under a new name if its old place is taken)
and the caller ingests it again. Only files under the library folder or an operator-configured ingest root
(``serve.ingest_roots``) are ever moved. Nothing here deletes a file. The trash folder is hidden, so an ingest
of the library folder does not pick it up (``ingest.hidden`` is off by default).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..catalog import SPACES, Asset, Catalog
from ..catalog.models import TrashEntry, utcnow
from .scan import canonical, inside

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from ..components import Components
    from ..settings import Settings

TRASH_DIR = ".trash"
ROOTS_HINT = "the library folder and the folders listed in serve.ingest_roots"


class TrashError(ValueError):
    """A trash request that cannot be done; the message names the item and the reason. Nothing was moved."""


@dataclass(frozen=True)
class TrashItem:
    id: int
    path: str  # where the file was in the library
    trash_path: str
    asset_id: int
    kind: str
    size: int
    kept_id: int | None
    trashed_at: datetime
    restored_at: datetime | None
    restored_path: str | None

    @property
    def in_trash(self) -> bool:
        return self.restored_at is None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "trash_path": self.trash_path, "asset_id": self.asset_id,
                "kind": self.kind, "size": self.size, "kept_id": self.kept_id, "in_trash": self.in_trash,
                "trashed_at": self.trashed_at.isoformat(),
                "restored_at": self.restored_at.isoformat() if self.restored_at else None,
                "restored_path": self.restored_path}


def movable_roots(settings: Settings) -> list[str]:
    """The folders whose files the trash may move (canonical): the library folder and ``serve.ingest_roots``."""
    return [canonical(settings.library)] + [canonical(root) for root in settings.serve.ingest_roots]


def trash_folder(library: Path) -> Path:
    return library / TRASH_DIR


def move_to_trash(components: Components, asset_ids: Sequence[int], keep: int | None = None) -> list[TrashItem]:
    """Move the files of ``asset_ids`` into the trash and drop them from the catalog and indexes. ``keep``: the
    copy kept instead (recorded; it must exist and is never moved). All or nothing: any refused item moves none.
    The caller holds the library's write lock."""
    from ..index.healing import SelfHealingIndexes
    from .writer import IndexChanges, remove_assets

    catalog, changes, moved = components.catalog, IndexChanges(), []
    try:
        with catalog.session() as session:
            assets = _checked(session, asset_ids, keep, movable_roots(components.settings))
            entries = [_move_one(session, asset, keep, trash_folder(components.path), moved) for asset in assets]
            remove_assets(session, catalog, [asset.id for asset in assets], changes)
            session.flush()
            items = [_item(entry) for entry in entries]
    except BaseException:
        for source, target in reversed(moved):  # the catalog was rolled back: put the files back too
            shutil.move(target, source)
        raise
    indexes = SelfHealingIndexes(components.indexes)
    for space in SPACES:
        if changes.remove[space]:
            indexes.remove(space, changes.remove[space])
    indexes.save()
    return items


def restore_files(catalog: Catalog, entry_ids: Sequence[int]) -> list[TrashItem]:
    """Move trashed files back to where they were (``name (restored N).ext`` when that place is taken now);
    the caller ingests the returned ``restored_path``s. The caller holds the library's write lock."""
    wanted = _unique_ids(entry_ids, "trash entry")
    with catalog.session() as session:
        entries = {e.id: e for e in session.execute(select(TrashEntry).where(TrashEntry.id.in_(wanted))).scalars()}
        for entry_id in wanted:
            entry = entries.get(entry_id)
            if entry is None:
                raise TrashError(f"no trash entry {entry_id} (see `mmrag trash list`)")
            if entry.restored_at is not None:
                raise TrashError(f"trash entry {entry_id} ({entry.path}) was restored already, to "
                                 f"{entry.restored_path}")
            if not Path(entry.trash_path).is_file():
                raise TrashError(f"trash entry {entry_id}: its file {entry.trash_path} is missing from the trash")
        for entry_id in wanted:
            entry = entries[entry_id]
            target = free_path(Path(entry.path))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(entry.trash_path, target)
            entry.restored_at, entry.restored_path = utcnow(), target.as_posix()
            _remove_empty(Path(entry.trash_path).parent)
        session.flush()
        return [_item(entries[entry_id]) for entry_id in wanted]


def list_trash(catalog: Catalog, include_restored: bool = False) -> list[TrashItem]:
    """Trash entries, newest first; restored ones only with ``include_restored``."""
    query = select(TrashEntry).order_by(TrashEntry.id.desc())
    if not include_restored:
        query = query.where(TrashEntry.restored_at.is_(None))
    with catalog.session() as session:
        return [_item(entry) for entry in session.execute(query).scalars()]


def free_path(path: Path) -> Path:
    """``path`` if nothing is there, else ``stem (restored).ext``, ``stem (restored 2).ext``, ..."""
    if not os.path.lexists(path):
        return path
    for number in range(1, 10_000):
        tag = "restored" if number == 1 else f"restored {number}"
        candidate = path.with_name(f"{path.stem} ({tag}){path.suffix}")
        if not os.path.lexists(candidate):
            return candidate
    raise TrashError(f"cannot find a free name to restore {path}")


def _checked(session: Session, asset_ids: Sequence[int], keep: int | None, roots: list[str]) -> list[Asset]:
    ids = _unique_ids(asset_ids, "library item")
    if keep is not None and keep in ids:
        raise TrashError(f"library item {keep} is the copy to keep: it cannot also go to the trash")
    found = {a.id: a for a in session.execute(select(Asset).where(Asset.id.in_(ids + [keep or -1]))).scalars()}
    if keep is not None and keep not in found:
        raise TrashError(f"no library item with id {keep} (the copy to keep)")
    assets = []
    for asset_id in ids:
        asset = found.get(asset_id)
        if asset is None:
            raise TrashError(f"no library item with id {asset_id}")
        if asset.parent_id is not None:
            raise TrashError(f"library item {asset_id} is an image inside document {asset.parent_id}: trash the "
                             "document instead")
        real = canonical(asset.path)
        if not inside(real, roots):
            raise TrashError(f"library item {asset_id} ({asset.path}) is outside {ROOTS_HINT}; it is not moved "
                             "(add its folder to serve.ingest_roots to allow it)")
        if not Path(real).is_file():
            raise TrashError(f"library item {asset_id}: its file {asset.path} is missing on disk (`mmrag ingest` "
                             "its folder again to drop it from the library)")
        assets.append(asset)
    return assets


def _move_one(session: Session, asset: Asset, keep: int | None, trash: Path,
              moved: list[tuple[str, Path]]) -> TrashEntry:
    entry = TrashEntry(path=asset.path, trash_path="", asset_id=asset.id, kind=asset.kind, sha256=asset.sha256,
                       size=asset.size or 0, kept_id=keep)
    session.add(entry)
    session.flush()  # its id names its folder: two files of one name never collide in the trash
    target = trash / str(entry.id) / Path(asset.path).name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(asset.path, target)
    moved.append((asset.path, target))
    entry.trash_path = target.as_posix()
    return entry


def _unique_ids(ids: Sequence[int], what: str) -> list[int]:
    unique = list(dict.fromkeys(int(i) for i in ids))
    if not unique:
        raise TrashError(f"name at least one {what} id")
    return unique


def _remove_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:
        pass


def _item(entry: TrashEntry) -> TrashItem:
    return TrashItem(entry.id, entry.path, entry.trash_path, entry.asset_id, entry.kind, entry.size, entry.kept_id,
                     entry.trashed_at, entry.restored_at, entry.restored_path)
