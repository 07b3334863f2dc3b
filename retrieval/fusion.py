"""Fusing the dense and BM25 rankings of hybrid passage search.

Two methods, chosen on the R FAQ evaluation (bench/bench_rag.py; figures in docs/benchmarks.md):

- ``convex`` (default): ``(1 − α)·cos/cos_max + α·bm25/bm25_max`` over the union of both candidate lists,
  each score divided by the best score of its own list for this query. A passage beyond the dense list's
  depth gets that list's lowest score; one BM25 did not return gets 0. α = 0.3.
- ``rrf``: reciprocal rank fusion, ``Σ weight / (k + rank)``. It uses ranks only, so it needs no score
  calibration at all: prefer it with a text model whose cosine similarities crowd into a narrow band (e5-style
  models), where a fixed α would let BM25 dominate. Tuned: k = 10, weights dense 1.0 / BM25 0.75.
"""

from __future__ import annotations

from collections.abc import Sequence

FUSIONS = ("convex", "rrf")
DEFAULT_FUSION = "convex"
CONVEX_BM25_WEIGHT = 0.3
RRF_K = 10
RRF_WEIGHTS = (1.0, 0.75)  # dense, bm25


def check_fusion(fusion: str) -> str:
    if fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {fusion!r}; valid: {', '.join(FUSIONS)}")
    return fusion


def convex_fusion(
    dense: tuple[Sequence[int], Sequence[float]],
    bm25: tuple[Sequence[int], Sequence[float]],
    bm25_weight: float = CONVEX_BM25_WEIGHT,
) -> list[tuple[int, float]]:
    """Fuse (ids, scores) lists, best first, into (id, fused score) pairs, best first (ties: dense order)."""
    if not 0.0 <= bm25_weight <= 1.0:
        raise ValueError(f"bm25_weight must be in [0, 1], got {bm25_weight!r}")
    dense_norm = _normalised(*dense)
    bm25_norm = _normalised(*bm25)
    dense_floor = min(dense_norm.values(), default=0.0)
    items = list(dict.fromkeys([*dense[0], *bm25[0]]))  # first appearance: dense order, then BM25's
    position = {item: index for index, item in enumerate(items)}
    fused = {
        item: (1.0 - bm25_weight) * dense_norm.get(item, dense_floor) + bm25_weight * bm25_norm.get(item, 0.0)
        for item in items
    }
    return sorted(fused.items(), key=lambda pair: (-pair[1], position[pair[0]]))


def _normalised(ids: Sequence[int], scores: Sequence[float]) -> dict[int, float]:
    best = max(scores, default=0.0)
    if best <= 0:
        return {item: 0.0 for item in ids}
    return {item: max(score, 0.0) / best for item, score in zip(ids, scores, strict=True)}


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], weights: Sequence[float] | None = None, k: float = RRF_K
) -> list[tuple[int, float]]:
    """Fuse ranked id lists (best first) into one list of (id, fused score), best first.

    Ties keep the order of first appearance, so the result is deterministic.
    """
    if k < 0:
        raise ValueError(f"RRF constant k must be >= 0, got {k!r}")
    weights = list(weights) if weights is not None else [1.0] * len(rankings)
    if len(weights) != len(rankings):
        raise ValueError(f"{len(rankings)} rankings but {len(weights)} weights")
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        seen: set[int] = set()
        for rank, item in enumerate(ranking, start=1):
            if item in seen:
                continue
            seen.add(item)
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    order = {item: position for position, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
