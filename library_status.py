"""``Library.status()``: counts, models, indexes, device and size on disk."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from .catalog import SPACES, Asset, Chunk, Vector
from .models.clip import clip_fingerprint

if TYPE_CHECKING:
    from .components import Components


def library_status(lib: Components) -> dict[str, Any]:
    """Counts, models, indexes, device and size on disk of one library (what ``mmrag status`` prints)."""
    with lib.catalog.session() as session:
        by_kind = dict(
            session.execute(select(Asset.kind, func.count()).where(Asset.status == "ok").group_by(Asset.kind)).all()
        )
        skipped = session.execute(select(func.count()).where(Asset.status == "skipped")).scalar_one()
        chunks = session.execute(select(func.count()).select_from(Chunk)).scalar_one()
        vectors = dict(session.execute(select(Vector.space, func.count()).group_by(Vector.space)).all())
    settings = lib.settings
    return {
        "library": str(lib.path),
        "database": lib.catalog.safe_url,
        "assets": {kind: int(n) for kind, n in sorted(by_kind.items())},
        "total": int(sum(by_kind.values())),
        "skipped": int(skipped),
        "chunks": int(chunks),
        "vectors": {space: int(vectors.get(space, 0)) for space in SPACES},
        "models": {
            "clip": {"configured": clip_fingerprint(settings.clip_model, settings.clip_pretrained),
                     "library": lib.catalog.get_meta("model:image")},
            "text": {"configured": settings.rag.text_model, "library": lib.catalog.get_meta("model:text")},
        },
        "device": _device(settings.device),
        "indexes": lib.indexes.status(),
        "size_bytes": _folder_size(lib.path),
    }


def _device(configured: str) -> str:
    if configured != "auto":
        return configured
    from .models.clip import resolve_device

    return f"auto ({resolve_device('auto')})"


def _folder_size(path: os.PathLike[str] | str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total
