"""Near-duplicate groups of a library's images: the cascade of ``dedup_groups`` over the catalog.

Signatures (``catalog.features``) are computed at ingest. Images of older libraries, or whose signature was
computed by an older version, get theirs here, once, from the file (or, when the file is gone, from its
thumbnail), and it is stored: the first run on an old library is slower, later runs are not.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from sqlalchemy import select

from ..catalog import IMAGE_KINDS, IMAGE_SPACE, OK, Asset, Catalog
from ..catalog.features import ImageSignature, load_signatures, put_signature
from ..catalog.vectors import load_vectors
from .dedup_groups import DEFAULT_MIN_CONFIDENCE, DupItem, group_duplicates
from .filters import Filters
from .hits import DuplicateGroup

log = logging.getLogger(__name__)
BACKFILL_BATCH = 200


def find_duplicates(
    catalog: Catalog,
    *,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    filters: Filters | None = None,
    library: Path | None = None,
    max_pixels: int = 89_478_485,
) -> list[DuplicateGroup]:
    """Groups of copies of the same picture among the library's images (see ``dedup_groups``).

    ``library`` (the library folder) lets images whose file is gone be read from their thumbnail.
    """
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be between 0 and 1, got {min_confidence}")
    rows = _image_rows(catalog, filters or Filters())
    signatures = _signatures(catalog, rows, library, max_pixels)
    items = [
        DupItem(r.id, r.path, r.sha256, signatures[r.id], r.width or 0, r.height or 0, r.size, r.format, r.taken_at)
        for r in rows if r.id in signatures
    ]
    if len(items) < 2:
        return []
    return group_duplicates(items, vectors=_vectors(catalog, [item.id for item in items]),
                            min_confidence=min_confidence)


def _image_rows(catalog: Catalog, filters: Filters) -> list:  # type: ignore[type-arg]
    conditions = filters.conditions() + [Asset.status == OK, Asset.kind.in_(IMAGE_KINDS), Asset.sha256.is_not(None)]
    with catalog.session() as session:
        return list(session.execute(
            select(Asset.id, Asset.path, Asset.sha256, Asset.width, Asset.height, Asset.size, Asset.format,
                   Asset.taken_at).where(*conditions).order_by(Asset.id)
        ).all())


def _signatures(catalog: Catalog, rows: list, library: Path | None,  # type: ignore[type-arg]
                max_pixels: int) -> dict[int, ImageSignature]:
    """Stored signatures that match the asset's content; missing or stale ones computed and stored."""
    with catalog.session() as session:
        stored = load_signatures(session, [r.id for r in rows])
    found = {r.id: stored[r.id][1] for r in rows if r.id in stored and stored[r.id][0] == r.sha256}
    by_sha = {r.sha256: found[r.id] for r in rows if r.id in found}
    missing = [r for r in rows if r.id not in found]
    for start in range(0, len(missing), BACKFILL_BATCH):
        computed: list[tuple[int, str, ImageSignature]] = []
        for row in missing[start : start + BACKFILL_BATCH]:
            signature = by_sha.get(row.sha256) or _compute(row.path, row.sha256, library, max_pixels)
            if signature is not None:
                by_sha[row.sha256] = found[row.id] = signature
                computed.append((row.id, row.sha256, signature))
        with catalog.session() as session:
            for asset_id, sha, signature in computed:
                put_signature(session, asset_id, sha, signature)
            session.commit()
    return found


def _compute(path: str, sha256: str, library: Path | None, max_pixels: int) -> ImageSignature | None:
    """The signature of one image from its file, if it still has the content the catalog knows, else from
    its thumbnail; None (and a log line) when neither can be read: that image is left out."""
    from ..errors import InputError
    from ..ingest.hashes import compute_signature
    from ..ingest.images import open_image, sha256_bytes, thumbnail_path

    sources = [Path(path)] + ([thumbnail_path(library, sha256)] if library is not None else [])
    for source in sources:
        try:
            data = source.read_bytes()
            if source == Path(path) and sha256_bytes(data) != sha256:
                continue  # changed since ingest: the thumbnail shows the content the catalog knows
            return compute_signature(open_image(data, str(source), max_pixels).rgb)
        except (OSError, InputError) as exc:
            log.info("duplicates: cannot read %s: %s", source, exc)
    return None


def _vectors(catalog: Catalog, ids: list[int]) -> np.ndarray | None:
    """Embedding rows aligned with ``ids`` (zeros where an image has none), or None without any."""
    found_ids, vectors = load_vectors(catalog, IMAGE_SPACE, ids)
    if not len(found_ids):
        return None
    out = np.zeros((len(ids), vectors.shape[1]), np.float32)
    position = {asset_id: n for n, asset_id in enumerate(ids)}
    for row, asset_id in enumerate(found_ids.tolist()):
        out[position[asset_id]] = vectors[row]
    return out
