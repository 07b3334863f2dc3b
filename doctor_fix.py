"""The repairs of ``mmrag doctor --fix`` (see :mod:`mmrag.doctor` for the checks that find what they repair).

``fix`` holds the write lock and only ever rebuilds derived data, deletes vectors that belong to nothing,
marks items for re-embedding by the next ``mmrag ingest``, and (with ``prune_missing``) drops items whose
files are gone. It never re-embeds and never touches the user's files.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select, update

from .catalog import IMAGE_SPACE, SPACES, Asset
from .catalog.vectors import delete_vectors
from .doctor import Finding, Report, diagnose
from .errors import MmragError
from .index.files import sidecar_path
from .library import Library
from .settings import SETTINGS_FILE


def fix(lib: Library, report: Report, *, prune_missing: bool = False) -> Report:
    """Repair the fixable findings of ``report`` under the write lock; returns a fresh diagnosis with
    ``fixed`` listing what was done."""
    done: list[str] = []
    spaces: set[str] = set()
    with lib.writing():
        for finding in report.findings:
            fixer = FIXERS.get(finding.check) if finding.fixable else None
            if fixer is not None:
                done += fixer(lib, finding, spaces, prune_missing)
        for space in sorted(spaces):
            done.append(_rebuild(lib, space))
        lib.indexes.save()
    fresh = diagnose(lib)
    fresh.fixed = done
    return fresh


def _fix_index(lib: Library, finding: Finding, spaces: set[str], _prune: bool) -> list[str]:
    spaces.add(finding.space or IMAGE_SPACE)
    return []


def _fix_orphans(lib: Library, finding: Finding, spaces: set[str], _prune: bool) -> list[str]:
    space = finding.space or IMAGE_SPACE
    with lib.catalog.session() as session:
        removed = delete_vectors(session, lib.catalog, space, finding.items)
    spaces.add(space)
    return [f"deleted {removed} orphan {space} vectors"]


def _fix_missing_vectors(lib: Library, finding: Finding, spaces: set[str], _prune: bool) -> list[str]:
    """Mark the items (or, for pictures found in a document, the document) changed: re-embedded next ingest."""
    with lib.catalog.session() as session:
        parents = session.execute(select(Asset.id, Asset.parent_id).where(Asset.id.in_(finding.items))).all()
        owners = sorted({parent or asset_id for asset_id, parent in parents})
        session.execute(update(Asset).where(Asset.id.in_(owners)).values(mtime=-1.0, sha256=None))
    return [f"marked {len(owners)} items for re-embedding by the next `mmrag ingest`"]


def _fix_missing_files(lib: Library, finding: Finding, spaces: set[str], prune: bool) -> list[str]:
    if not prune:
        return []
    from .ingest.writer import IndexChanges, remove_assets

    with lib.catalog.session() as session:
        rows = session.execute(select(Asset.id, Asset.parent_id).where(Asset.path.in_(finding.items))).all()
        ids = [asset_id for asset_id, parent in rows if parent is None]
        children = [asset_id for asset_id, parent in rows if parent is not None]
        remove_assets(session, lib.catalog, ids, IndexChanges())
    if children:
        _fix_missing_vectors(lib, Finding("missing-file", "", "", "", items=children), spaces, prune)
    spaces.update(SPACES)
    return [f"removed {len(ids)} items whose files are gone"] + (
        [f"marked the documents of {len(children)} missing extracted pictures for re-ingest"] if children else [])


def _fix_thumbnails(lib: Library, finding: Finding, spaces: set[str], _prune: bool) -> list[str]:
    from .ingest.images import open_image, save_thumbnail, thumbnail_path

    made = 0
    settings = lib.settings.ingest
    for path in finding.items:
        try:
            decoded = open_image(Path(path).read_bytes(), path, settings.max_image_pixels)
            with lib.catalog.session() as session:
                sha = session.execute(select(Asset.sha256).where(Asset.path == path)).scalar_one()
            target = thumbnail_path(lib.path, sha)
            target.unlink(missing_ok=True)  # an empty one is replaced
            save_thumbnail(decoded.rgb, target, settings.thumbnail_size)
            made += 1
        except (OSError, MmragError):
            continue  # the file is gone or unreadable now: the missing-file check reports it
    return [f"made {made} of {len(finding.items)} missing thumbnails"]


def _fix_settings_model(lib: Library, finding: Finding, spaces: set[str], _prune: bool) -> list[str]:
    import tomllib

    import tomli_w

    from .models.clip import clip_settings_of

    known = clip_settings_of(finding.items[1])
    if known is None:
        return []
    path = lib.path / SETTINGS_FILE
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    data["clip_model"] = known[0]
    data["clip_pretrained"] = known[1] if known[1] is not None else "none"  # "none": no pretrained weights
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return [f"wrote the recorded CLIP model {finding.items[1]!r} into {path}"]


def _fix_temp_files(lib: Library, finding: Finding, spaces: set[str], _prune: bool) -> list[str]:
    for path in finding.items:
        Path(path).unlink(missing_ok=True)
    return [f"deleted {len(finding.items)} temporary files"]


def _rebuild(lib: Library, space: str) -> str:
    """Rebuild a space's index from the stored vectors. An index file is never deleted: with no stored
    vectors left it may be the last copy of them (a catalog that lost its WAL looks empty), so it is kept
    aside as ``<space>.faiss.orphaned-*`` and readers no longer use it."""
    index = lib.indexes.rebuild(space)
    if index is None:
        path = lib.indexes.path(space)
        kept = [_set_aside(p) for p in (path, sidecar_path(path)) if p.exists()]
        return (f"the catalog holds no {space} vectors: kept the old {space} index aside as {kept[0]}"
                if kept else f"no {space} vectors and no {space} index")
    return f"rebuilt the {space} index from {len(index)} stored vectors ({index.spec})"


def _set_aside(path: Path) -> str:
    import time

    target = path.with_name(f"{path.name}.orphaned-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(path, target)
    return target.name


def plan(report: Report, *, prune_missing: bool = False) -> list[str]:
    """What ``fix`` would do for ``report``, one line per action, before it does anything."""
    lines = []
    for finding in report.findings:
        if not finding.fixable or finding.check not in FIXERS:
            continue
        if finding.check == "missing-file" and not prune_missing:
            continue
        lines.append(f"{PLANS[finding.check].format(n=len(finding.items), space=finding.space or IMAGE_SPACE)}")
    return lines


PLANS = {
    "index": "rebuild the {space} index from the stored vectors (an index with no stored vectors left is "
             "kept aside, not deleted)",
    "orphan-vector": "delete {n} {space} vectors that belong to no item",
    "missing-vector": "mark {n} items for re-embedding by the next `mmrag ingest`",
    "missing-file": "remove {n} items whose files are gone from the catalog (your files are not touched)",
    "thumbnail": "make {n} thumbnails again from the files",
    "temp-file": "delete {n} temporary files left by an interrupted writer",
    "settings-model": "write the CLIP model the image vectors were made by into mmrag.toml",
}


FIXERS: dict[str, Callable[[Library, Finding, set[str], bool], list[str]]] = {
    "index": _fix_index,
    "orphan-vector": _fix_orphans,
    "missing-vector": _fix_missing_vectors,
    "missing-file": _fix_missing_files,
    "thumbnail": _fix_thumbnails,
    "temp-file": _fix_temp_files,
    "settings-model": _fix_settings_model,
}
