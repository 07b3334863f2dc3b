"""Passage search over document chunks: dense (text-space FAISS index), BM25, or both fused by RRF.

Scores by mode: ``dense`` cosine similarity; ``bm25`` the BM25 score; ``hybrid`` the fused score (convex:
0…1, the best possible passage scoring 1; rrf: the reciprocal-rank sum). Each hit's ``extra`` also keeps
the per-retriever scores and ranks it got.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from ..catalog.db import Catalog
from ..catalog.models import OK, TEXT_SPACE, Asset, Chunk
from . import fusion, sections
from .filters import Filters
from .hits import Hit
from .search import check_k

if TYPE_CHECKING:
    from ..components import Components

MODES = ("dense", "bm25", "hybrid")
HYBRID_DEPTH = 100  # each retriever's depth in hybrid mode (fusion needs more than the final k)


@dataclass
class Ranking:
    """One retriever's result: chunk ids best first, with their scores."""

    ids: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise ValueError(f"unknown retrieval mode {mode!r}; valid modes: {', '.join(MODES)}")
    return mode


def search_passages(
    components: Components,
    query: str,
    k: int = 10,
    mode: str | None = None,
    filters: Filters | dict[str, Any] | None = None,
    *,
    fusion_method: str = fusion.DEFAULT_FUSION,
    bm25_weight: float | None = None,
) -> list[Hit]:
    """Top-k passages for a question.

    ``fusion_method`` (hybrid mode): ``convex`` or ``rrf`` (see :mod:`mmrag.retrieval.fusion`);
    ``bm25_weight`` overrides the method's BM25 weight (convex α in [0, 1], or the RRF weight of BM25).
    """
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"query must be a non-empty string, got {query!r}")
    k = check_k(k)
    mode = check_mode(mode or components.settings.rag.mode)
    fusion.check_fusion(fusion_method)
    allowed = allowed_chunk_ids(components.catalog, Filters.parse(filters))
    if allowed is not None and not len(allowed):
        return []
    depth = max(2 * k, HYBRID_DEPTH) if mode == "hybrid" else k + 10
    rankings: dict[str, Ranking] = {}
    if mode in ("dense", "hybrid"):
        rankings["dense"] = dense_ranking(components, query, depth, allowed)
    if mode in ("bm25", "hybrid"):
        rankings["bm25"] = bm25_ranking(components, query, depth, allowed)
    ordered = fuse(rankings, fusion_method, bm25_weight) if mode == "hybrid" else _pairs(rankings[mode])
    if not components.settings.rag.sections:
        return fetch_hits(components.catalog, ordered[: max(2 * k, k + 20)], mode, rankings)[:k]
    ordered, places = sections.collapse_first(components.catalog, ordered, max(2 * k, k + 20))
    hits = fetch_hits(components.catalog, ordered, mode, rankings)[:k]
    contexts = sections.section_contexts(components.catalog, {h.chunk_id: places[h.chunk_id] for h in hits
                                                              if h.chunk_id in places})
    for hit in hits:
        if hit.chunk_id in contexts:
            hit.extra["context"] = contexts[hit.chunk_id]
    return hits


def fuse(rankings: dict[str, Ranking], method: str, bm25_weight: float | None = None) -> list[tuple[int, float]]:
    """Hybrid order of the dense and BM25 rankings."""
    dense, bm25 = rankings["dense"], rankings["bm25"]
    if method == "convex":
        weight = fusion.CONVEX_BM25_WEIGHT if bm25_weight is None else bm25_weight
        return fusion.convex_fusion((dense.ids, dense.scores), (bm25.ids, bm25.scores), weight)
    weights = (fusion.RRF_WEIGHTS[0], fusion.RRF_WEIGHTS[1] if bm25_weight is None else bm25_weight)
    return fusion.reciprocal_rank_fusion([dense.ids, bm25.ids], weights, k=fusion.RRF_K)


def _pairs(ranking: Ranking) -> list[tuple[int, float]]:
    return list(zip(ranking.ids, ranking.scores, strict=True))


def allowed_chunk_ids(catalog: Catalog, filters: Filters) -> np.ndarray | None:
    """Chunk ids the filters allow (None: no filter, everything is allowed)."""
    if filters.is_empty:
        return None
    with catalog.session() as session:
        ids = session.execute(filters.chunk_ids()).scalars().all()
    return np.asarray(ids, dtype=np.int64)


def dense_ranking(components: Components, query: str, depth: int, allowed: np.ndarray | None) -> Ranking:
    indexes = components.indexes
    indexes.refresh(TEXT_SPACE)  # pick up documents another process committed since the index was loaded
    index = indexes.get(TEXT_SPACE)
    if index is None or len(index) == 0:  # a library without documents
        return Ranking()
    vector = components.text_embedder.embed_texts([query], is_query=True)
    result = indexes.search(TEXT_SPACE, vector, min(depth, len(index)), allowed_ids=allowed)
    pairs = [(int(i), float(s)) for i, s in zip(result.ids[0], result.scores[0], strict=True) if i >= 0]
    return Ranking([i for i, _ in pairs], [s for _, s in pairs])


def bm25_ranking(components: Components, query: str, depth: int, allowed: np.ndarray | None) -> Ranking:
    index = components.bm25.get()
    ids, scores = index.search(query, depth, allowed)
    return Ranking([int(i) for i in ids], [float(s) for s in scores])


def fetch_hits(
    catalog: Catalog, ordered: list[tuple[int, float]], mode: str, rankings: dict[str, Ranking]
) -> list[Hit]:
    """Catalog rows for ranked chunk ids, as Hits in the same order (chunks deleted meanwhile are dropped)."""
    if not ordered:
        return []
    with catalog.session() as session:
        rows = session.execute(
            select(Chunk.id, Chunk.asset_id, Chunk.ordinal, Chunk.text, Chunk.page, Chunk.section,
                   Chunk.char_start, Chunk.char_end, Asset.path, Asset.title)
            .join(Asset, Asset.id == Chunk.asset_id)
            .where(Chunk.id.in_([i for i, _ in ordered]), Asset.status == OK)
        ).all()
    by_id = {row[0]: row for row in rows}
    positions = {name: _positions(ranking) for name, ranking in rankings.items()}
    hits = []
    for chunk_id, score in ordered:
        row = by_id.get(chunk_id)
        if row is None:
            continue
        extra: dict[str, Any] = {"mode": mode, "ordinal": row[2], "char_start": row[6], "char_end": row[7]}
        if row[9]:
            extra["title"] = row[9]
        for name, found in positions.items():
            if chunk_id in found:
                extra[f"{name}_rank"], extra[f"{name}_score"] = found[chunk_id][0], round(found[chunk_id][1], 6)
        hits.append(Hit(id=row[1], path=row[8], score=round(float(score), 6), kind="document", chunk_id=chunk_id,
                        text=row[3], page=row[4], section=row[5], extra=extra))
    return hits


def _positions(ranking: Ranking) -> dict[int, tuple[int, float]]:
    return {cid: (rank, score) for rank, (cid, score) in enumerate(zip(ranking.ids, ranking.scores, strict=True), 1)}
