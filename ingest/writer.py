"""Catalog writes of ingest: each batch is one transaction holding assets and their vectors together."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..catalog import IMAGE, IMAGE_SPACE, OK, SKIPPED, TEXT_SPACE, Asset, Catalog, Chunk, Vector
from ..catalog.features import put_signature
from ..catalog.ocr_text import copy_ocr, put_ocr
from ..catalog.vectors import delete_vectors, put_vectors
from .jobs import FileResult, Known


@dataclass
class IndexChanges:
    """What the FAISS indexes must do once the transaction has committed."""

    remove: dict[str, list[int]] = field(default_factory=lambda: {IMAGE_SPACE: [], TEXT_SPACE: []})
    add_ids: dict[str, list[int]] = field(default_factory=lambda: {IMAGE_SPACE: [], TEXT_SPACE: []})
    add_vectors: dict[str, list[np.ndarray]] = field(default_factory=lambda: {IMAGE_SPACE: [], TEXT_SPACE: []})

    def add(self, space: str, ids: Sequence[int], vectors: np.ndarray) -> None:
        if len(ids):
            self.add_ids[space].extend(int(i) for i in ids)
            self.add_vectors[space].append(np.asarray(vectors, dtype=np.float32))


def upsert_asset(session: Session, result: FileResult, old: Known | None, kind: str) -> Asset:
    asset = session.get(Asset, old.asset_id) if old else None
    if asset is None:
        if result.action != "skip":
            check_canonical(result.found.path)
        asset = Asset(path=result.found.path, folder=os.path.dirname(result.found.path), kind=kind)
        session.add(asset)
    asset.kind = kind
    asset.size = result.found.size
    asset.mtime = result.found.mtime
    asset.sha256 = result.sha256 or asset.sha256
    asset.status = OK
    asset.error = None
    asset.updated_at = datetime.now(UTC)
    return asset


def check_canonical(path: str) -> None:
    """The catalog refuses a second spelling of a file (``..``, a symlinked folder): one real file, one row."""
    real = Path(os.path.realpath(path)).as_posix()
    if real != path:
        raise ValueError(f"{path!r} is not the canonical path of its file ({real!r}); paths reach the catalog "
                         "through ingest.scan.canonical")


def remove_leftover_temp_files(folder: Path) -> int:
    """Delete ``*.tmp`` files an interrupted writer left in ``folder`` (call while holding the write lock:
    no other writer can be writing one). Returns how many were removed."""
    removed = 0
    for path in Path(folder).glob(".*.tmp"):
        try:
            path.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def mark_skipped(session: Session, catalog: Catalog, result: FileResult, old: Known | None,
                 changes: IndexChanges) -> None:
    asset = upsert_asset(session, result, old, old.kind if old else _kind_of(result))
    asset.status = SKIPPED
    asset.error = result.reason
    if old and old.has_vector:  # it was fine before and is broken now: its vector must go
        delete_vectors(session, catalog, IMAGE_SPACE, [asset.id])
        changes.remove[IMAGE_SPACE].append(asset.id)


def write_images(
    session: Session,
    catalog: Catalog,
    items: Sequence[tuple[FileResult, np.ndarray | None]],
    known: dict[str, Known],
    model: str,
    changes: IndexChanges,
) -> None:
    """Write embedded, reused and touched image results; each item is (result, vector or None for touch)."""
    ids: list[int] = []
    rows: list[np.ndarray] = []
    shas: list[str | None] = []
    for result, vector in items:
        old = known.get(result.found.path)
        asset = upsert_asset(session, result, old, IMAGE if old is None else old.kind)
        if vector is None:
            continue
        if result.meta is not None:
            _apply_meta(asset, result)
        elif result.reuse_from is not None:
            _copy_meta(session, asset, result.reuse_from)
        session.flush()
        if result.meta is not None and result.meta.signature is not None and result.sha256:
            put_signature(session, asset.id, result.sha256, result.meta.signature)
        if result.meta is not None and result.meta.ocr is not None:
            put_ocr(session, catalog, asset.id, result.meta.ocr)
        elif result.reuse_from is not None:
            copy_ocr(session, catalog, asset.id, result.reuse_from)
        if old and old.has_vector:
            changes.remove[IMAGE_SPACE].append(asset.id)
        ids.append(asset.id)
        rows.append(vector)
        shas.append(result.sha256)
    if ids:
        matrix = np.stack(rows)
        put_vectors(session, catalog, IMAGE_SPACE, ids, matrix, model, shas)
        changes.add(IMAGE_SPACE, ids, matrix)


def reusable_vectors(session: Session, shas: Sequence[str], model: str) -> dict[str, tuple[int, np.ndarray]]:
    """By content hash: (asset id, vector) of an item embedded from that exact content by ``model``.

    Looked up by content rather than by the asset planned at the start of the run, which an earlier batch
    may have changed (re-embedded with new content) or dropped since.
    """
    from ..catalog.vectors import unpack

    found: dict[str, tuple[int, np.ndarray]] = {}
    wanted = sorted(set(shas))
    for start in range(0, len(wanted), 500):
        rows = session.execute(
            select(Vector.content_sha256, Vector.item_id, Vector.dim, Vector.data).where(
                Vector.space == IMAGE_SPACE, Vector.model == model,
                Vector.content_sha256.in_(wanted[start : start + 500]),
            )
        ).all()
        for sha, item_id, dim, data in rows:
            found.setdefault(sha, (item_id, unpack([data], dim)[0]))
    return found


def remove_assets(session: Session, catalog: Catalog, asset_ids: Sequence[int], changes: IndexChanges) -> None:
    """Delete assets with their chunks, extracted child images and every vector of theirs."""
    if not asset_ids:
        return
    ids = list(asset_ids)
    children = session.execute(select(Asset.id).where(Asset.parent_id.in_(ids))).scalars().all()
    image_ids = ids + list(children)
    chunk_ids = session.execute(select(Chunk.id).where(Chunk.asset_id.in_(ids))).scalars().all()
    if delete_vectors(session, catalog, IMAGE_SPACE, image_ids):
        changes.remove[IMAGE_SPACE].extend(image_ids)
    if chunk_ids and delete_vectors(session, catalog, TEXT_SPACE, chunk_ids):
        changes.remove[TEXT_SPACE].extend(chunk_ids)
    for asset in session.execute(select(Asset).where(Asset.id.in_(image_ids))).scalars():
        session.delete(asset)


def _apply_meta(asset: Asset, result: FileResult) -> None:
    meta = result.meta
    assert meta is not None
    asset.width, asset.height, asset.format = meta.width, meta.height, meta.format
    asset.phash, asset.taken_at = meta.phash, meta.taken_at


def _copy_meta(session: Session, asset: Asset, source_id: int) -> None:
    source = session.get(Asset, source_id)
    if source is not None:
        asset.width, asset.height, asset.format = source.width, source.height, source.format
        asset.phash, asset.taken_at = source.phash, source.taken_at
    if asset.taken_at is None:
        asset.taken_at = datetime.fromtimestamp(asset.mtime, UTC)


def _kind_of(result: FileResult) -> str:
    return "document" if result.found.kind == "document" else IMAGE
