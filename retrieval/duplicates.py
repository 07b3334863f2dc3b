"""Near-duplicate groups: perceptual-hash candidates, confirmed by embedding similarity.

Two images are near-duplicates when their 64-bit pHash values differ in at most ``max_hash_distance`` bits
(default 10: survives re-encoding, resizing, small crops and colour edits; unrelated photos are ~32 apart)
AND their CLIP vectors have cosine similarity ≥ ``min_similarity`` (default 0.90), which rejects the
rare hash collisions between different pictures of similar structure. Groups are connected components of
the confirmed pairs; ``similarity`` reports the lowest confirmed pair in the group.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import select

from ..catalog import IMAGE_SPACE, OK, Asset, Catalog
from ..catalog.vectors import load_vectors
from .filters import Filters
from .hits import DuplicateGroup

DEFAULT_MAX_HASH_DISTANCE = 10
DEFAULT_MIN_SIMILARITY = 0.90


def find_duplicates(
    catalog: Catalog,
    *,
    max_hash_distance: int = DEFAULT_MAX_HASH_DISTANCE,
    min_similarity: float = DEFAULT_MIN_SIMILARITY,
    filters: Filters | None = None,
) -> list[DuplicateGroup]:
    if not 0 <= max_hash_distance <= 64:
        raise ValueError(f"max_hash_distance must be between 0 and 64 bits, got {max_hash_distance}")
    if not -1.0 <= min_similarity <= 1.0:
        raise ValueError(f"min_similarity must be a cosine in [-1, 1], got {min_similarity}")
    ids, paths, hashes = _hashed_images(catalog, filters or Filters())
    if len(ids) < 2:
        return []
    pairs = _hash_pairs(hashes, max_hash_distance)
    if not len(pairs):
        return []
    found_ids, vectors = load_vectors(catalog, IMAGE_SPACE, [int(i) for i in ids])
    row = {int(i): n for n, i in enumerate(found_ids)}
    groups = _UnionFind()
    for a, b, distance in pairs:
        ia, ib = int(ids[a]), int(ids[b])
        if ia not in row or ib not in row:
            continue
        similarity = float(vectors[row[ia]] @ vectors[row[ib]])
        if similarity >= min_similarity:
            groups.union(a, b, similarity, distance)
    return groups.groups(ids, paths)


def _hashed_images(catalog: Catalog, filters: Filters) -> tuple[np.ndarray, list[str], np.ndarray]:
    conditions = filters.conditions() + [Asset.phash.is_not(None), Asset.status == OK]
    with catalog.session() as session:
        rows = session.execute(select(Asset.id, Asset.path, Asset.phash).where(*conditions).order_by(Asset.id)).all()
    ids = np.asarray([r[0] for r in rows], dtype=np.int64)
    packed = b"".join(bytes.fromhex(r[2].rjust(16, "0")) for r in rows)
    hashes = np.frombuffer(packed, dtype=np.uint8).reshape(-1, 8)
    return ids, [r[1] for r in rows], hashes


def _hash_pairs(hashes: np.ndarray, radius: int) -> list[tuple[int, int, int]]:
    """All pairs within a Hamming radius, by FAISS binary range search (i < j)."""
    from ..index.spec import faiss

    index = faiss.IndexBinaryFlat(64)
    index.add(hashes)
    limits, distances, labels = index.range_search(hashes, radius + 1)  # radius is exclusive in faiss
    pairs = []
    for query in range(len(hashes)):
        for pos in range(limits[query], limits[query + 1]):
            other = int(labels[pos])
            if other > query:
                pairs.append((query, other, int(distances[pos])))
    return pairs


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}
        self.min_similarity: dict[int, float] = {}
        self.max_distance: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int, similarity: float, distance: int) -> None:
        ra, rb = self.find(a), self.find(b)
        root = min(ra, rb)
        other = max(ra, rb)
        similarity = min(similarity, self.min_similarity.pop(other, 1.0), self.min_similarity.get(root, 1.0))
        distance = max(distance, self.max_distance.pop(other, 0), self.max_distance.get(root, 0))
        self.parent[other] = root
        self.min_similarity[root] = similarity
        self.max_distance[root] = distance

    def groups(self, ids: np.ndarray, paths: list[str]) -> list[DuplicateGroup]:
        members: dict[int, list[int]] = {}
        for node in self.parent:
            members.setdefault(self.find(node), []).append(node)
        result = [
            DuplicateGroup(
                ids=[int(ids[n]) for n in sorted(nodes)],
                paths=[paths[n] for n in sorted(nodes)],
                similarity=round(self.min_similarity.get(root, 1.0), 4),
                max_hash_distance=self.max_distance.get(root, 0),
            )
            for root, nodes in members.items()
            if len(nodes) > 1
        ]
        return sorted(result, key=lambda g: (-len(g.ids), g.ids[0]))
