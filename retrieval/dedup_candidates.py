"""Candidate pairs for the duplicate cascade, from cheap signals; never all pairs (no quadratic step).

- Perceptual hashes: each image's pHash under the 8 symmetries of the square against every image's plain
  pHash, within ``HASH_RADIUS`` bits, by multi-index hashing: the 64 bits are cut into 4 chunks of 16;
  two hashes within r bits agree on some chunk up to r // 4 bits (pigeonhole), so each query probes its
  chunks' values with up to ``flips`` bits flipped in bucket tables (start and count of each 16-bit value,
  so a probe is one array lookup, all queries at once in numpy). Exact up to 4 * (flips + 1) - 1 bits:
  11 with 2 flips (libraries up to ``TWO_FLIPS_UP_TO`` images; 12 bits found when the bits fall unevenly),
  7 with 1 flip beyond, and the radius is then 7: among 100,000 random hashes, 8 symmetries give ~9,000
  pairs within 12 bits by chance, each costing a verification, and ~3 within 7.
- Local features: the first ``VOTE_DESCRIPTORS`` ORB descriptors of each image (``VOTE_DESCRIPTORS_LARGE``
  beyond ``TWO_FLIPS_UP_TO`` images), each matched to its nearest descriptors of other images (FAISS binary
  index: exact below ``IVF_FROM`` descriptors, IVF with ``IVF_LISTS`` lists and ``IVF_PROBES`` probes beyond;
  FAISS runs on the idle cores only, ``faiss_threads``); pairs that share
  ``MIN_VOTES`` close descriptors become candidates (crops, small rotations, borders).
- Tiny images: each image's grey copy at ``TINY_SIDE`` x ``TINY_SIDE`` (block means, brightness and contrast
  normalised) as a vector; the ``TINY_NEIGHBOURS`` nearest above ``MIN_TINY_COSINE`` (same framing, other
  pixels: an icon drawn again at another size, a heavy edit); k-nearest neighbours as in ``vector_candidates``.
- Icons drawn again at each size are paired by ``dedup_icon_pairs``, which uses this module's neighbour search.
- Embeddings (where a real model made them): the k nearest neighbours above ``MIN_COSINE``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import combinations

import numpy as np

from .dedup_pixels import off_corner
from .dedup_verify import trim_frame

HASH_RADIUS = 12
TWO_FLIPS_UP_TO = 20_000
VOTE_DESCRIPTORS = 32
VOTE_NEIGHBOURS = 3
VOTE_MAX_DISTANCE = 48  # bits of 256
MIN_VOTES = 4
VOTE_DESCRIPTORS_LARGE = 8
MIN_VOTES_LARGE = 3
IVF_FROM = 400_000
IVF_LISTS = 1024
IVF_PROBES = 2
EMBEDDING_NEIGHBOURS = 5
MIN_COSINE = 0.85
EXACT_KNN_UP_TO = 10_000
KNN_PROBES = 8
KNN_PCA_DIMENSIONS = 64
COSINE_PART = 65_536  # neighbour pairs whose exact cosines are computed at once
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
    masks = _flip_masks(flips)
    if flips == 1:  # only what the probes find exactly: pairs found by luck beyond are mostly random matches
        radius = min(radius, 4 * (flips + 1) - 1)
    tables = [_bucket_table(_chunk_values(plain, chunk)) for chunk in range(4)]
    found: list[np.ndarray] = []
    for symmetry in range(phashes.shape[1]):
        queries = phashes[:, symmetry, :]
        query_words = _words(queries)
        for chunk, table in enumerate(tables):
            rows, cols = _probe(_chunk_values(queries, chunk), table, masks)
            rows, cols = (rows, cols) if not len(rows) else _kept(rows, cols, symmetry)
            distance = np.bitwise_count(query_words[rows] ^ words[cols])
            close = distance <= radius
            found.append(np.stack([rows[close], cols[close], distance[close].astype(np.int64),
                                   np.full(int(close.sum()), symmetry, np.int64)]))
    return _closest(np.concatenate(found, axis=1))


def _kept(rows: np.ndarray, cols: np.ndarray, symmetry: int) -> tuple[np.ndarray, np.ndarray]:
    keep = rows != cols if symmetry else rows < cols
    return rows[keep], cols[keep]


def _closest(found: np.ndarray) -> dict[tuple[int, int], tuple[int, int]]:
    """{(i, j): (symmetry, distance)} from columns (i, j, distance, symmetry), the smallest distance per pair."""
    order = np.lexsort((found[3], found[2], found[1], found[0]))
    found = found[:, order]
    first = np.ones(found.shape[1], bool)
    first[1:] = (found[0, 1:] != found[0, :-1]) | (found[1, 1:] != found[1, :-1])
    i, j, distance, symmetry = (column.tolist() for column in found[:, first])
    return {(a, b): (s, d) for a, b, d, s in zip(i, j, distance, symmetry, strict=True)}


def _words(hashes: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(hashes).view(">u8").ravel().astype(np.uint64)


def _chunk_values(hashes: np.ndarray, chunk: int) -> np.ndarray:
    return (hashes[:, 2 * chunk].astype(np.int64) << 8) | hashes[:, 2 * chunk + 1]


def _flip_masks(flips: int) -> np.ndarray:
    """Every 16-bit mask with at most ``flips`` bits set."""
    return np.asarray([0] + [sum(1 << b for b in bits) for k in range(1, flips + 1)
                             for bits in combinations(range(16), k)], dtype=np.int64)


def _bucket_table(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start, count) of each 16-bit value's run in ``order`` (the rows sorted by value), and ``order``."""
    counts = np.bincount(values, minlength=1 << 16)
    return np.cumsum(counts) - counts, counts, np.argsort(values, kind="stable")


def _probe(values: np.ndarray, table: tuple[np.ndarray, np.ndarray, np.ndarray],
           masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(query rows, table rows) of every table entry equal to a query value with a mask's bits flipped (a pair
    found through several chunks appears once per chunk: callers keep the closest)."""
    starts, counts, order = table
    probes = (values[:, None] ^ masks[None, :]).ravel()
    hits = counts[probes]
    hit = np.flatnonzero(hits)
    hits = hits[hit]
    total = int(hits.sum())
    offsets = np.arange(total) - np.repeat(np.cumsum(hits) - hits, hits)
    return np.repeat(hit // len(masks), hits), order[np.repeat(starts[probes[hit]], hits) + offsets]


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
    with faiss_threads():
        distances, labels = _binary_index(data).search(data, VOTE_NEIGHBOURS + 1)
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
        index.cp.niter = 10  # k-means: 10 rounds on 16 points a list (25 on 30: 5x the time, same search)
        sample = np.random.default_rng(0).choice(len(data), min(len(data), 16 * IVF_LISTS), replace=False)
        index.train(data[sample])
        index.nprobe = IVF_PROBES
    index.add(data)
    return index


def vector_candidates(vectors: np.ndarray, k: int = EMBEDDING_NEIGHBOURS,
                      min_cosine: float = MIN_COSINE) -> set[tuple[int, int]]:
    """Pairs (i < j) where j is among i's k nearest neighbours by cosine (L2-normalised rows) above the floor
    (exact up to ``EXACT_KNN_UP_TO`` rows; beyond, an inverted file with ``2 sqrt(n)`` lists and ``KNN_PROBES``
    probes over a PCA to ``KNN_PCA_DIMENSIONS``, the neighbours' cosines then computed exactly)."""
    return set(_neighbours(vectors, np.arange(len(vectors)), k, min_cosine))


def _neighbours(vectors: np.ndarray, queries: np.ndarray, k: int,
                min_cosine: float) -> dict[tuple[int, int], float]:
    """{(i, j): cosine} (i < j) where one of the pair is a row of ``queries`` and the other among its k nearest
    rows (see ``vector_candidates``) at or above ``min_cosine``."""
    rows, cols, cosines = nearest_rows(vectors, queries, k)
    keep = cosines >= min_cosine
    return _pairs(rows[keep], cols[keep], cosines[keep])


def nearest_rows(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query rows, neighbour rows, exact cosines), each query's k nearest other rows nearest first."""
    if len(vectors) < 2 or not len(queries):
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    with faiss_threads():
        _, labels = _float_index(data).search(np.ascontiguousarray(data[queries]), k + 1)
    rows = np.repeat(queries, labels.shape[1])
    cols = labels.ravel()
    keep = (cols >= 0) & (cols != rows)
    rows, cols = rows[keep], cols[keep]
    cosines = np.empty(len(rows), np.float32)  # exact, also after a PCA; in parts: two gathered copies of
    for start in range(0, len(rows), COSINE_PART):  # every row pair would take GBs at 100,000 x 24 neighbours
        part = slice(start, start + COSINE_PART)
        cosines[part] = np.einsum("ij,ij->i", data[rows[part]], data[cols[part]])
    return rows, cols, cosines


def _pairs(rows: np.ndarray, cols: np.ndarray, scores: np.ndarray) -> dict[tuple[int, int], float]:
    a, b = np.minimum(rows, cols), np.maximum(rows, cols)
    return dict(zip(zip(a.tolist(), b.tolist(), strict=True), scores.tolist(), strict=True))


def _float_index(data: np.ndarray):  # type: ignore[no-untyped-def]
    import faiss

    dimension = data.shape[1]
    if len(data) <= EXACT_KNN_UP_TO:
        index = faiss.IndexFlatIP(dimension)
    else:
        lists = int(2 * np.sqrt(len(data)))
        reduced = min(dimension, KNN_PCA_DIMENSIONS)
        index = faiss.index_factory(dimension, f"PCA{reduced},IVF{lists},Flat", faiss.METRIC_INNER_PRODUCT)
        faiss.extract_index_ivf(index).cp.niter = 8
        sample = np.random.default_rng(0).choice(len(data), min(len(data), 16 * lists), replace=False)
        index.train(data[sample])
        faiss.extract_index_ivf(index).nprobe = KNN_PROBES
    index.add(data)
    return index


@contextmanager
def faiss_threads() -> Iterator[None]:
    """FAISS's OpenMP threads limited, while the block runs, to the cores not already busy (at least one):
    OpenMP's waiting threads spin, and on a loaded 2-core machine a binary search ran 6x slower on 2 threads
    than on 1 (measured here). Results do not depend on the thread count."""
    import faiss

    before = faiss.omp_get_max_threads()
    idle = round((os.cpu_count() or 1) - os.getloadavg()[0])
    faiss.omp_set_num_threads(max(1, min(before, idle)))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def shape_batches(smalls: list[np.ndarray], size: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(positions, stacked images) for the small copies, grouped by shape, at most ``size`` at a time."""
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for n, small in enumerate(smalls):
        by_shape.setdefault(small.shape, []).append(n)
    for members in by_shape.values():
        for start in range(0, len(members), size):
            part = np.asarray(members[start : start + size])
            yield part, np.stack([smalls[n] for n in part])


def tiny_vectors(smalls: list[np.ndarray]) -> np.ndarray:
    """(n, TINY_SIDE**2) rows: grey area means of each small copy (a uniform frame trimmed), zero mean, unit
    length (cosine = correlation). Copies of one shape are shrunk together, as two matrix products; only those
    that may have a frame are trimmed one by one."""
    rows = np.zeros((len(smalls), TINY_SIDE * TINY_SIDE), np.float32)
    for part, batch in shape_batches(smalls):
        rows[part] = _tiny_batch(batch)
        for n in part[_maybe_framed(batch)].tolist():
            rows[n] = _tiny_batch(trim_frame(smalls[n])[None])[0]
    rows -= rows.mean(axis=1, keepdims=True)
    return rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-6)


def _tiny_batch(batch: np.ndarray) -> np.ndarray:
    """(m, TINY_SIDE**2) grey area means (as OpenCV's INTER_AREA shrinks) of m RGB images of one shape."""
    grey = batch.astype(np.float32).mean(axis=3)
    tiny = area_weights(grey.shape[1]) @ grey @ area_weights(grey.shape[2]).T
    return tiny.reshape(len(batch), -1)


def area_weights(size: int, side: int = TINY_SIDE) -> np.ndarray:
    """(side, size): output cell k averages the input pixels overlapping [k, k + 1) * size / side
    (weighted by the overlap; a linear stretch when ``size`` < side)."""
    edges = np.arange(side + 1) * size / side
    pixels = np.arange(size)
    overlap = np.clip(np.minimum(edges[1:, None], pixels[None, :] + 1) - np.maximum(edges[:-1, None], pixels[None, :]),
                      0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def _maybe_framed(batch: np.ndarray) -> np.ndarray:
    """Images of the batch with an edge row or column all in the corner colour (``trim_frame`` may cut them)."""
    content = off_corner(batch)
    edges = (content[:, 0, :].any(axis=1) & content[:, -1, :].any(axis=1)
             & content[:, :, 0].any(axis=1) & content[:, :, -1].any(axis=1))
    return ~edges
