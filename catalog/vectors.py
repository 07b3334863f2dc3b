"""Stored vectors: float16 bytes in the ``vectors`` table, written in the caller's transaction."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from .db import Catalog
from .models import Vector

STORED_DTYPE = np.dtype("<f2")


def pack(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=STORED_DTYPE).tobytes()


def unpack(blobs: Sequence[bytes], dim: int) -> np.ndarray:
    """Decode stored blobs into an (n, dim) float32 matrix."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    flat = np.frombuffer(b"".join(blobs), dtype=STORED_DTYPE)
    return flat.reshape(len(blobs), dim).astype(np.float32)


def put_vectors(
    session: Session,
    catalog: Catalog,
    space: str,
    item_ids: Sequence[int],
    vectors: np.ndarray,
    model: str,
    content_sha256: Sequence[str | None] | None = None,
) -> None:
    """Insert or replace the vectors of ``item_ids`` and bump the space's generation (same transaction)."""
    if len(item_ids) != len(vectors):
        raise ValueError(f"{len(item_ids)} ids but {len(vectors)} vectors")
    if not len(item_ids):
        return
    delete_vectors(session, catalog, space, item_ids, bump=False)
    shas = content_sha256 or [None] * len(item_ids)
    dim = int(vectors.shape[1])
    session.add_all(
        Vector(space=space, item_id=int(i), model=model, dim=dim, data=pack(v), content_sha256=s)
        for i, v, s in zip(item_ids, vectors, shas, strict=True)
    )
    catalog.mark_changed(session, space)


def delete_vectors(
    session: Session, catalog: Catalog, space: str, item_ids: Iterable[int], *, bump: bool = True
) -> int:
    ids = [int(i) for i in item_ids]
    removed = 0
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        result = session.execute(delete(Vector).where(Vector.space == space, Vector.item_id.in_(part)))
        removed += result.rowcount or 0
    if removed and bump:
        catalog.mark_changed(session, space)
    return removed


def vector_ids(catalog: Catalog, space: str) -> np.ndarray:
    with catalog.session() as session:
        ids = session.execute(select(Vector.item_id).where(Vector.space == space)).scalars().all()
    return np.asarray(ids, dtype=np.int64)


def count_vectors(catalog: Catalog, space: str) -> int:
    with catalog.session() as session:
        return int(session.execute(select(func.count()).where(Vector.space == space)).scalar_one())


def load_vectors(catalog: Catalog, space: str, item_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Vectors of the given ids that exist (ids returned in the order found)."""
    found_ids: list[int] = []
    blobs: list[bytes] = []
    dim = 0
    with catalog.session() as session:
        for start in range(0, len(item_ids), 500):
            part = [int(i) for i in item_ids[start : start + 500]]
            rows = session.execute(
                select(Vector.item_id, Vector.dim, Vector.data).where(Vector.space == space, Vector.item_id.in_(part))
            ).all()
            for item_id, row_dim, data in rows:
                found_ids.append(item_id)
                blobs.append(data)
                dim = row_dim
    return np.asarray(found_ids, dtype=np.int64), unpack(blobs, dim)


def iter_vectors(catalog: Catalog, space: str, batch: int = 20_000) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """All vectors of a space in id order, as (ids, float32 matrix) batches; used to (re)build indexes."""
    last = -1
    while True:
        with catalog.session() as session:
            rows = session.execute(
                select(Vector.item_id, Vector.dim, Vector.data)
                .where(Vector.space == space, Vector.item_id > last)
                .order_by(Vector.item_id)
                .limit(batch)
            ).all()
        if not rows:
            return
        last = rows[-1][0]
        yield np.asarray([r[0] for r in rows], dtype=np.int64), unpack([r[2] for r in rows], rows[0][1])


def space_model(catalog: Catalog, space: str) -> str | None:
    """The embedding model recorded for a space (set on the first vector written)."""
    return catalog.get_meta(f"model:{space}")


def record_space_model(session: Session, catalog: Catalog, space: str, fingerprint: str) -> None:
    """Record the space's model with its first vectors (same transaction); later writes keep it."""
    if not space_model(catalog, space):
        catalog.set_meta(f"model:{space}", fingerprint, session)
