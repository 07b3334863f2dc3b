"""Vector search over the image space: query vectors → filtered FAISS search → catalog rows → Hits."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import bindparam, func, select

from ..catalog import IMAGE_SPACE, Asset, Catalog
from ..catalog.vectors import load_vectors
from .filters import Filters
from .hits import Hit

if TYPE_CHECKING:
    from ..components import Components
    from ..index.index_set import IndexSet

MAX_K = 10_000
# Query text beyond this is dropped before embedding: CLIP reads 77 tokens, and tokenizing megabytes of
# text that the model ignores took seconds per MB.
MAX_QUERY_CHARS = 4096


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


def search_space(
    catalog: Catalog,
    indexes: IndexSet,
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
    want = k + len(exclude)
    allowed = allowed_ids(catalog, filters, exclude)
    for _ in range(3):
        ranking = nearest(indexes, query, want, allowed, space=space, exclude=exclude)
        hits = hits_in_order(catalog, ranking.pairs)
        if len(hits) >= k or not ranking.deeper:
            return hits[:k]
        want *= 2  # some ids were deleted after the index was loaded: look further
    return hits[:k]


@dataclass(frozen=True)
class Ranking:
    """(asset id, score) pairs from the index, best first, not yet checked against the catalog; ``deeper``:
    the index holds more matches than were asked for."""

    pairs: list[tuple[int, float]]
    deeper: bool


def nearest(indexes: IndexSet, query: np.ndarray, depth: int, allowed: np.ndarray | None, *,
            space: str = IMAGE_SPACE, exclude: Sequence[int] = ()) -> Ranking:
    """The index's ``depth`` nearest ids for one query vector among ``allowed`` (``allowed_ids``; None: all),
    without reading their rows (a fused search reads only the rows of the hits it returns)."""
    query = np.asarray(query, dtype=np.float32).reshape(1, -1)
    if not np.isfinite(query).all():
        raise ValueError("query vector contains NaN or infinite values")
    if allowed is not None and not len(allowed):
        return Ranking([], False)
    indexes.refresh(space)  # pick up what another process committed since the index was loaded
    size = len(indexes.get(space) or ())
    if not size:
        return Ranking([], False)
    result = indexes.search(space, query, min(depth, size), allowed_ids=allowed)
    pairs = [(int(i), float(s)) for i, s in zip(result.ids[0], result.scores[0], strict=True) if i >= 0]
    full = len(pairs) >= min(depth, size)
    pairs = [(i, s) for i, s in pairs if i not in exclude]
    return Ranking(pairs, full and depth < size)


def allowed_ids(catalog: Catalog, filters: Filters, exclude: Sequence[int] = ()) -> np.ndarray | None:
    """The ids the filters allow, less ``exclude``; None when there are no filters (everything is allowed)."""
    if filters.is_empty:
        return None
    with catalog.session() as session:
        ids = session.execute(filters.asset_ids()).scalars().all()
    return np.asarray([i for i in ids if i not in set(exclude)], dtype=np.int64)


# What a hit shows of an asset: plain rows of these columns cost a tenth of ORM objects, and the statement,
# built once, a quarter of one built per query (20 rows at 1 M: 0.84 → 0.23 ms).
HIT_COLUMNS = (Asset.id, Asset.path, Asset.kind, Asset.width, Asset.height, Asset.sha256, Asset.size,
               Asset.parent_id, Asset.status)
_HIT_ROWS = select(*HIT_COLUMNS).where(Asset.id.in_(bindparam("ids", expanding=True)))


def hits_by_id(catalog: Catalog, pairs: Sequence[tuple[int, float]]) -> dict[int, Hit]:
    """The hits of the assets in ``pairs`` (id, score) that still exist and are ok, by id."""
    if not pairs:
        return {}
    scores = dict(pairs)
    with catalog.engine.connect() as conn:
        rows = conn.execute(_HIT_ROWS, {"ids": list(scores)}).all()
    return {row.id: hit_from_asset(row, scores[row.id]) for row in rows if row.status == "ok"}


def hits_in_order(catalog: Catalog, pairs: list[tuple[int, float]]) -> list[Hit]:
    found = hits_by_id(catalog, pairs)
    return [found[asset_id] for asset_id, _ in pairs if asset_id in found]


def hit_from_asset(asset: Any, score: float) -> Hit:
    """The hit of an asset: an ``Asset`` or a row of HIT_COLUMNS."""
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


def search_images(
    components: Components,
    text: str | None = None,
    image: Any = None,
    *,
    image_weight: float = 0.5,
    negative: str | None = None,
    negative_weight: float = 0.5,
    k: int = 10,
    filters: Filters | dict[str, Any] | None = None,
) -> list[Hit]:
    """Images for ``(1-w)·text + w·image − negative_weight·negative``, all in CLIP space."""
    k = check_k(k)
    parsed = Filters.parse(filters)
    query = query_vector(components, text, image, image_weight=image_weight, negative=negative,
                         negative_weight=negative_weight)
    return search_space(components.catalog, components.indexes, query, k, parsed)


def similar_images(components: Components, asset_id: int, k: int = 10,
                   filters: Filters | dict[str, Any] | None = None) -> list[Hit]:
    """More like library item ``asset_id`` (the item itself is left out)."""
    vector = stored_vector(components.catalog, item_id(asset_id))
    return search_space(components.catalog, components.indexes, vector, k, Filters.parse(filters),
                        exclude=[int(asset_id)])


def query_vector(components: Components, text: str | None = None, image: Any = None, *,
                 image_weight: float = 0.5, negative: str | None = None,
                 negative_weight: float = 0.5) -> np.ndarray:
    """The unit CLIP query vector of a combined text / image / negative query."""
    if text is None and image is None:
        raise ValueError("give a text query, an image query, or both")
    if not 0.0 <= image_weight <= 1.0:
        raise ValueError(f"image_weight must be in [0, 1], got {image_weight}")
    clip = components.clip
    parts: list[tuple[np.ndarray, float]] = []
    if text is not None:
        text = check_query_text(text)[:MAX_QUERY_CHARS]
        parts.append((clip.embed_texts([text])[0], 1.0 - image_weight if image is not None else 1.0))
    if image is not None:
        parts.append((image_vector(components, image), image_weight if text is not None else 1.0))
    if negative:
        negative = check_query_text(negative, "negative")[:MAX_QUERY_CHARS]
        parts.append((clip.embed_texts([negative])[0], -abs(negative_weight)))
    return combine(parts)


def image_vector(components: Components, image: Any) -> np.ndarray:
    """CLIP vector of a query image: a path, bytes, a PIL image, or a library id (its stored vector)."""
    from ..ingest.images import load_query_image

    if isinstance(image, (int, np.integer)) and not isinstance(image, bool):
        return stored_vector(components.catalog, item_id(image))
    rgb = load_query_image(image, components.settings.ingest.max_image_pixels)
    return components.clip.embed_images([rgb])[0]


def get_asset(catalog: Catalog, asset_id: int) -> Asset:
    """The catalog row of a library item (its tags loaded); ValueError when there is none."""
    with catalog.session() as session:
        asset = session.get(Asset, item_id(asset_id))
        if asset is None:
            raise ValueError(f"no library item with id {asset_id}")
        _ = asset.tags  # load while the session is open
        return asset


def item_id(value: Any) -> int:
    """A library item id as an int; ids outside the database's 64-bit range name no item (ValueError, not
    the driver's OverflowError)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"a library item id must be an integer, got {value!r}")
    if not 0 <= int(value) < 2**63:
        raise ValueError(f"no library item with id {value}")
    return int(value)
