"""Candidate pairs for the duplicate cascade, from cheap signals; never all pairs (no quadratic step).

- Perceptual hashes: each image's pHash under the 8 symmetries of the square against every image's plain
  pHash, within ``HASH_RADIUS`` bits, by multi-index hashing: the 64 bits are cut into 4 chunks of 16;
  two hashes within r bits agree on some chunk up to r // 4 bits (pigeonhole), so each query probes its
  chunks' values with up to ``flips`` bits flipped in sorted tables. Exact up to 4 * (flips + 1) - 1 bits:
  11 with 2 flips (libraries up to ``TWO_FLIPS_UP_TO`` images), 7 with 1 flip beyond (larger distances then
  found only when their differing bits fall unevenly in the chunks).
- Local features: the first ``VOTE_DESCRIPTORS`` ORB descriptors of each image (``VOTE_DESCRIPTORS_LARGE``
  beyond ``TWO_FLIPS_UP_TO`` images), each matched to its nearest descriptors of other images (FAISS binary
  index: exact below ``IVF_FROM`` descriptors, IVF with ``IVF_LISTS`` lists beyond); pairs that share
  ``MIN_VOTES`` close descriptors become candidates (crops, small rotations, borders).
- Tiny images: each image's grey copy at ``TINY_SIDE`` x ``TINY_SIDE`` (block means, brightness and contrast
  normalised) as a vector; the ``TINY_NEIGHBOURS`` nearest above ``MIN_TINY_COSINE`` (same framing, other
  pixels: an icon drawn again at another size, a heavy edit).
- Embeddings (where a real model made them): the k nearest neighbours above ``MIN_COSINE``.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

HASH_RADIUS = 12
TWO_FLIPS_UP_TO = 20_000
VOTE_DESCRIPTORS = 32
VOTE_NEIGHBOURS = 3
VOTE_MAX_DISTANCE = 48  # bits of 256
MIN_VOTES = 4
VOTE_DESCRIPTORS_LARGE = 12
MIN_VOTES_LARGE = 3
IVF_FROM = 400_000
IVF_LISTS = 1024
IVF_PROBES = 4
EMBEDDING_NEIGHBOURS = 5
MIN_COSINE = 0.85
TINY_SIDE = 16
TINY_NEIGHBOURS = 5
MIN_TINY_COSINE = 0.80


def hash_candidates(phashes: np.ndarray, radius: int = HASH_RADIUS) -> dict[tuple[int, int], tuple[int, int]]:
    """{(i, j): (symmetry, distance)} for i != j where the pHash of image i turned by ``symmetry`` is within
    ``radius`` bits of the plain pHash of j (smallest distance kept; for symmetry 0 only i < j).
    ``phashes``: uint8 (n, 8 symmetries, 8 bytes)."""
    n = len(phashes)
    if n < 2:
        return {}
    plain = phashes[:, 0, :]
    words = _words(plain)
    flips = 2 if n <= TWO_FLIPS_UP_TO else 1
    found: dict[tuple[int, int], tuple[int, int]] = {}
    tables = [_chunk_table(plain, c) for c in range(4)]
    for symmetry in range(phashes.shape[1]):
        queries = phashes[:, symmetry, :]
        rows, cols = _probe(queries, tables, flips)
        keep = rows != cols if symmetry else rows < cols
        rows, cols = rows[keep], cols[keep]
        distance = np.bitwise_count(_words(queries)[rows] ^ words[cols])
        close = distance <= radius
        for i, j, d in zip(rows[close].tolist(), cols[close].tolist(), distance[close].tolist(), strict=True):
            if (i, j) not in found or d < found[(i, j)][1]:
                found[(i, j)] = (symmetry, d)
    return found


def _words(hashes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(hashes).view(">u8").ravel().astype(np.uint64)


def _chunk_values(hashes: np.ndarray, chunk: int) -> np.ndarray:
    return hashes[:, 2 * chunk].astype(np.uint32) << 8 | hashes[:, 2 * chunk + 1]


def _chunk_table(hashes: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    values = _chunk_values(hashes, chunk)
    order = np.argsort(values, kind="stable")
    return values[order], order


def _probe(queries: np.ndarray, tables: list[tuple[np.ndarray, np.ndarray]], flips: int) -> tuple[np.ndarray, ...]:
    """(query rows, table rows) of every table entry equal to a query chunk with up to ``flips`` bits flipped
    (a pair found through several chunks appears several times)."""
    masks = np.asarray([0] + [sum(1 << b for b in bits) for k in range(1, flips + 1)
                              for bits in combinations(range(16), k)], dtype=np.uint32)
    all_rows, all_cols = [], []
    for chunk, (keys, order) in enumerate(tables):
        probes = (_chunk_values(queries, chunk)[:, None] ^ masks[None, :]).ravel()
        low = np.searchsorted(keys, probes, "left")
        high = np.searchsorted(keys, probes, "right")
        counts = high - low
        hit = np.nonzero(counts)[0]
        if not len(hit):
            continue
        counts = counts[hit]
        starts = np.repeat(low[hit] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        all_rows.append(np.repeat(hit // len(masks), counts))
        all_cols.append(order[starts])
    if not all_rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(all_rows), np.concatenate(all_cols)  # may repeat a pair: callers keep the closest


def feature_candidates(descriptors: list[np.ndarray]) -> set[tuple[int, int]]:
    """Pairs (i < j) of images sharing at least MIN_VOTES close ORB descriptors (fewer of both beyond
    TWO_FLIPS_UP_TO images: VOTE_DESCRIPTORS_LARGE and MIN_VOTES_LARGE)."""
    large = len(descriptors) > TWO_FLIPS_UP_TO
    per_image, min_votes = (VOTE_DESCRIPTORS_LARGE, MIN_VOTES_LARGE) if large else (VOTE_DESCRIPTORS, MIN_VOTES)
    owners = np.concatenate([np.full(min(len(d), per_image), i, np.int64) for i, d in enumerate(descriptors)]
                            or [np.zeros(0, np.int64)])
    if len(np.unique(owners)) < 2:
        return set()
    data = np.ascontiguousarray(np.concatenate([d[:per_image] for d in descriptors if len(d)]))
    index = _binary_index(data)
    distances, labels = index.search(data, VOTE_NEIGHBOURS + 1)
    rows = np.repeat(owners, labels.shape[1])
    cols = owners[np.clip(labels.ravel(), 0, None)]
    keep = (labels.ravel() >= 0) & (distances.ravel() <= VOTE_MAX_DISTANCE) & (rows != cols)
    a, b = np.minimum(rows[keep], cols[keep]), np.maximum(rows[keep], cols[keep])
    pairs, votes = np.unique(np.stack([a, b]), axis=1, return_counts=True)
    strong = votes >= min_votes
    return {(int(i), int(j)) for i, j in pairs[:, strong].T}


def _binary_index(data: np.ndarray):  # type: ignore[no-untyped-def]
    import faiss

    if len(data) < IVF_FROM:
        index = faiss.IndexBinaryFlat(256)
    else:
        index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(256), 256, IVF_LISTS)
        sample = np.random.default_rng(0).choice(len(data), min(len(data), 30 * IVF_LISTS), replace=False)
        index.train(data[sample])
        index.nprobe = IVF_PROBES
    index.add(data)
    return index


def vector_candidates(vectors: np.ndarray, k: int = EMBEDDING_NEIGHBOURS,
                      min_cosine: float = MIN_COSINE) -> set[tuple[int, int]]:
    """Pairs (i < j) where j is among i's k nearest neighbours by cosine (L2-normalised rows) above the floor."""
    import faiss

    if len(vectors) < 2:
        return set()
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if len(data) > 50_000:
        index = faiss.IndexHNSWFlat(data.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 64
    else:
        index = faiss.IndexFlatIP(data.shape[1])
    index.add(data)
    scores, labels = index.search(data, k + 1)
    rows = np.repeat(np.arange(len(data)), labels.shape[1])
    cols = labels.ravel()
    keep = (cols >= 0) & (cols != rows) & (scores.ravel() >= min_cosine)
    return {(int(min(i, j)), int(max(i, j))) for i, j in zip(rows[keep], cols[keep], strict=True)}


def tiny_vectors(smalls: list[np.ndarray]) -> np.ndarray:
    """(n, TINY_SIDE**2) rows: grey block means, zero mean, unit length (cosine = correlation)."""
    import cv2

    rows = np.zeros((len(smalls), TINY_SIDE * TINY_SIDE), np.float32)
    from .dedup_verify import trim_frame

    for n, small in enumerate(smalls):
        grey = trim_frame(small).astype(np.float32).mean(axis=2)
        row = cv2.resize(grey, (TINY_SIDE, TINY_SIDE), interpolation=cv2.INTER_AREA).ravel()
        row -= row.mean()
        rows[n] = row / (np.linalg.norm(row) + 1e-6)
    return rows
