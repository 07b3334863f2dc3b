"""Exact top-k by inner product over an index's own (reconstructed) vectors, for small allowed sets."""

from __future__ import annotations

import numpy as np

from .spec import faiss

CHUNK = 16384  # vectors reconstructed at once


def exact_top_k(index: faiss.Index, q: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by inner product over the reconstructed vectors of ``allowed`` (chunked); rows padded with -1."""
    best_s = np.full((len(q), 0), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), 0), dtype=np.int64)
    for start in range(0, len(allowed), CHUNK):
        part = allowed[start:start + CHUNK]
        vecs = index.reconstruct_batch(part)
        best_s = np.hstack([best_s, q @ vecs.T])
        best_i = np.hstack([best_i, np.broadcast_to(part, (len(q), len(part)))])
        if best_s.shape[1] > k:
            top = np.argpartition(-best_s, k - 1, axis=1)[:, :k]
            best_s = np.take_along_axis(best_s, top, 1)
            best_i = np.take_along_axis(best_i, top, 1)
    order = np.argsort(-best_s, axis=1, kind="stable")
    scores = np.full((len(q), k), -np.inf, dtype=np.float32)
    labels = np.full((len(q), k), -1, dtype=np.int64)
    width = best_s.shape[1]
    scores[:, :width] = np.take_along_axis(best_s, order, 1)
    labels[:, :width] = np.take_along_axis(best_i, order, 1)
    return scores, labels
