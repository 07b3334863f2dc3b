"""Thumbs up/down on search results and answers, kept in the catalog's ``feedback`` table.

Rows are written by the UI (and any caller with a catalog) and exported by ``mmrag feedback --json`` to tune
retrieval offline: which results people found useful for which query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from ..catalog.db import Catalog
from ..catalog.models import Asset, Chunk, Feedback

TARGETS = ("result", "answer")
VALUES = (1, -1)
MAX_QUERY_CHARS = 4000


def record_feedback(
    catalog: Catalog,
    target: str,
    query: str,
    value: int,
    asset_id: int | None = None,
    chunk_id: int | None = None,
    comment: str | None = None,
    *,
    replace: int | None = None,
) -> int:
    """Store one vote (``value`` +1 or -1) and return its row id.

    ``replace``: the id of a vote this one supersedes (a person changing their mind), updated in place so
    a changed vote counts once. A ``replace`` id that no longer exists is ignored and a new row is written.
    """
    _check(target, query, value, asset_id, chunk_id)
    with catalog.session() as session:
        _check_exists(session, asset_id, chunk_id)
        row = session.get(Feedback, replace) if replace is not None else None
        if row is None:
            row = Feedback()
            session.add(row)
        row.target, row.query, row.value = target, query.strip()[:MAX_QUERY_CHARS], int(value)
        row.asset_id, row.chunk_id, row.comment = asset_id, chunk_id, comment or None
        session.flush()
        return int(row.id)


def delete_feedback(catalog: Catalog, feedback_id: int) -> bool:
    """Withdraw a vote; returns whether a row was deleted."""
    with catalog.session() as session:
        result = session.execute(delete(Feedback).where(Feedback.id == int(feedback_id)))
        return bool(result.rowcount)


def export_feedback(catalog: Catalog) -> list[dict[str, Any]]:
    """Every vote, oldest first, with the path of the item it is about (``None`` once that item is gone)."""
    query = (
        select(Feedback, Asset.path, Chunk.page)
        .outerjoin(Asset, Asset.id == Feedback.asset_id)
        .outerjoin(Chunk, Chunk.id == Feedback.chunk_id)
        .order_by(Feedback.created_at, Feedback.id)
    )
    with catalog.session() as session:
        return [_row_dict(row, path, page) for row, path, page in session.execute(query).all()]


def feedback_counts(catalog: Catalog) -> dict[str, dict[str, int]]:
    """Votes per target: ``{"result": {"up": 3, "down": 1}, "answer": {...}}``."""
    counts = {target: {"up": 0, "down": 0} for target in TARGETS}
    with catalog.session() as session:
        for target, value in session.execute(select(Feedback.target, Feedback.value)).all():
            counts.setdefault(target, {"up": 0, "down": 0})["up" if value > 0 else "down"] += 1
    return counts


def _row_dict(row: Feedback, path: str | None, page: int | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "target": row.target,
        "query": row.query,
        "value": row.value,
        "asset_id": row.asset_id,
        "chunk_id": row.chunk_id,
        "path": path,
        "page": page,
        "comment": row.comment,
        "created_at": _iso(row.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _check(target: str, query: str, value: int, asset_id: int | None, chunk_id: int | None) -> None:
    if target not in TARGETS:
        raise ValueError(f"unknown feedback target {target!r}; valid targets: {', '.join(TARGETS)}")
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"feedback needs the query it is about, got {query!r}")
    if isinstance(value, bool) or value not in VALUES:
        raise ValueError(f"feedback value must be +1 (thumbs up) or -1 (thumbs down), got {value!r}")
    if target == "result" and asset_id is None and chunk_id is None:
        raise ValueError("feedback on a result needs the asset_id or chunk_id of that result")


def _check_exists(session: Any, asset_id: int | None, chunk_id: int | None) -> None:
    if asset_id is not None and session.get(Asset, int(asset_id)) is None:
        raise ValueError(f"no library item with id {asset_id}")
    if chunk_id is not None and session.get(Chunk, int(chunk_id)) is None:
        raise ValueError(f"no passage with id {chunk_id}")
