"""Reciprocal rank fusion: each ranked list gives ``weight / (k + rank)`` to its items (rank from 1).

Only ranks are used, so BM25 scores (unbounded) and cosine similarities (−1…1) combine without any
calibration. The constants were chosen on the R FAQ evaluation (bench/bench_rag.py, docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Sequence

RRF_K = 60
DENSE_WEIGHT = 1.0
BM25_WEIGHT = 1.0


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
