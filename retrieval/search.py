"""Vector search over the image space: query vectors → filtered FAISS search → catalog rows → Hits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
from sqlalchemy import func, select

from ..catalog import IMAGE_SPACE, Asset, Catalog, Vector
from ..catalog.vectors import load_vectors
from .filters import Filters
from .hits import Hit

MAX_K = 10_000


def check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an integer, got {k!r}")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K}, got {k}")
    return int(k)


def check_query_text(text: Any, name: str = "query") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    if not cleaned:
        raise ValueError(f"{name} is empty: {text!r}")
    return cleaned


def combine(parts: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
    """Weighted sum of unit query vectors (negative weights push away), renormalised."""
    for _, weight in parts:
        if not math.isfinite(weight):
            raise ValueError(f"weights must be finite numbers, got {weight!r}")
    for vector, _ in parts:
        if not np.isfinite(np.asarray(vector, dtype=np.float64)).all():
            raise ValueError("a query vector contains NaN or infinite values")
    # Weights are scaled to at most 1 and summed in float64: the result is renormalised anyway, and a huge
    # finite weight (1e300) would otherwise overflow float32.
    scale = max((abs(weight) for _, weight in parts), default=0.0) or 1.0
    total = sum((weight / scale) * np.asarray(part, dtype=np.float64).reshape(-1) for part, weight in parts)
    vector = np.asarray(total, dtype=np.float64)
    norm = float(np.linalg.norm(vector))
    if not math.isfinite(norm) or norm < 1e-6:
        raise ValueError("the weighted query is empty (weights cancel out); give a positive weight to a part")
    return (vector / norm).astype(np.float32)


class SpaceSearcher(Protocol):
    """What search needs of the index layer (``IndexSet`` satisfies it)."""

    def search(self, space: str, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> Any: ...

    def get(self, space: str) -> Any: ...

    def refresh(self, space: str | None = None) -> None: ...


def search_space(
    catalog: Catalog,
    indexes: SpaceSearcher,
    query: np.ndarray,
    k: int,
    filters: Filters,
    *,
    space: str = IMAGE_SPACE,
    exclude: Sequence[int] = (),
) -> list[Hit]:
    """Top-k assets for one query vector. Filters pick the allowed ids first, so k results come back
    whenever k assets match; ids deleted since the index was loaded are dropped (a reader never sees a
    result whose asset is gone)."""
    k = check_k(k)
    query = np.asarray(query, dtype=np.float32).reshape(1, -1)
    if not np.isfinite(query).all():
        raise ValueError("query vector contains NaN or infinite values")
    allowed = _allowed_ids(catalog, filters, exclude)
    if allowed is not None and not len(allowed):
        return []
    indexes.refresh(space)  # pick up what another process committed since the index was loaded
    size = len(indexes.get(space) or ())
    if not size:
        return []
    want = k + len(exclude)
    for _ in range(3):
        result = indexes.search(space, query, min(want, size), allowed_ids=allowed)
        pairs = [(int(i), float(s)) for i, s in zip(result.ids[0], result.scores[0], strict=True) if i >= 0]
        pairs = [(i, s) for i, s in pairs if i not in exclude]
        hits = _hits(catalog, pairs)
        if len(hits) >= k or len(pairs) < want or want >= size:
            return hits[:k]
        want *= 2  # some ids were deleted after the index was loaded: look further
    return hits[:k]


def _allowed_ids(catalog: Catalog, filters: Filters, exclude: Sequence[int]) -> np.ndarray | None:
    if filters.is_empty:
        return None
    with catalog.session() as session:
        ids = session.execute(filters.asset_ids()).scalars().all()
    return np.asarray([i for i in ids if i not in set(exclude)], dtype=np.int64)


def _hits(catalog: Catalog, pairs: list[tuple[int, float]]) -> list[Hit]:
    if not pairs:
        return []
    with catalog.session() as session:
        assets = {a.id: a for a in session.execute(select(Asset).where(Asset.id.in_([i for i, _ in pairs]))).scalars()}
    hits = []
    for asset_id, score in pairs:
        asset = assets.get(asset_id)
        if asset is None or asset.status != "ok":
            continue
        hits.append(hit_from_asset(asset, score))
    return hits


def hit_from_asset(asset: Asset, score: float) -> Hit:
    extra: dict[str, Any] = {"sha256": asset.sha256, "size": asset.size}
    if asset.parent_id:
        extra["parent_id"] = asset.parent_id
    return Hit(id=asset.id, path=asset.path, score=round(score, 6), kind=asset.kind, width=asset.width,
               height=asset.height, extra=extra)


def stored_vector(catalog: Catalog, asset_id: int, space: str = IMAGE_SPACE) -> np.ndarray:
    """The stored vector of a library item (for "more like this" and id queries)."""
    if isinstance(asset_id, bool) or not isinstance(asset_id, (int, np.integer)):
        raise TypeError(f"asset id must be an integer, got {asset_id!r}")
    ids, vectors = load_vectors(catalog, space, [int(asset_id)])
    if not len(ids):
        with catalog.session() as session:
            exists = session.execute(select(func.count()).where(Asset.id == int(asset_id))).scalar_one()
        reason = "it has no image vector (a document or a skipped file)" if exists else "no such item"
        raise ValueError(f"cannot search like library item {asset_id}: {reason}")
    return vectors[0]


def count_space(catalog: Catalog, space: str) -> int:
    with catalog.session() as session:
        return int(session.execute(select(func.count()).select_from(Vector).where(Vector.space == space)).scalar_one())
