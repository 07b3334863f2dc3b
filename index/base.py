"""The vector-index seam: what :class:`~mmrag.index.index_set.IndexSet` calls on an index (``VectorIndex``)
and how it makes and opens one (``IndexBackend``). FAISS implements both today (``faiss_index.py``,
:class:`FaissBackend`); a vector database (Milvus) drops in as a second backend without touching callers.

The catalog's ``vectors`` table stays the truth: a backend only has to hold, search and persist what the
index set gives it, and the index set re-syncs or rebuilds it from the table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class SearchResult:
    """Scores and ids of shape (n_queries, k); missing results have id -1 and score -inf."""

    scores: np.ndarray
    ids: np.ndarray

    @classmethod
    def empty(cls, n: int, k: int) -> SearchResult:
        """``n`` rows of ``k`` missing results."""
        return cls(scores=np.full((n, k), -np.inf, dtype=np.float32), ids=np.full((n, k), -1, np.int64))


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product search over L2-normalised float32 vectors keyed by int64 catalog ids."""

    dim: int
    spec: str  # the index type as built, as a FAISS factory string ("Flat", "IVF1024,Flat", "HNSW32" ...)
    requested_spec: str  # what was asked for (a spec scaled down for a small training set differs)

    def __len__(self) -> int: ...

    @property
    def is_trained(self) -> bool:
        """False until ``train`` ran on an index type that needs training (IVF, PQ)."""

    @property
    def nprobe(self) -> int | None:
        """IVF lists searched per query (None for other types)."""

    @property
    def ef_search(self) -> int | None:
        """HNSW search breadth (None for other types)."""

    @property
    def device(self) -> str:
        """Where searches run: "cpu", "gpu", or the engine's name."""

    @property
    def needs_rebuild(self) -> bool:
        """True when removals left the index degraded enough that a rebuild from the table pays off."""

    def memory_bytes(self) -> int:
        """Estimate of the resident bytes this index costs the process."""

    def train(self, vectors: np.ndarray) -> None:
        """Train an untrained index on a sample (no-op when trained)."""

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given ids (ids must not be present yet)."""

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove ids; returns how many were present."""

    def clear(self) -> None:
        """Remove every vector, keeping the training."""

    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> SearchResult:
        """k nearest by inner product; with allowed_ids only those ids can be returned."""

    def ids(self) -> np.ndarray:
        """All ids in the index (int64, sorted)."""

    def contains(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``ids`` are in the index."""

    def save(self, path: Path, **sidecar: object) -> dict[str, Any]:
        """Persist atomically, with a JSON sidecar at ``files.sidecar_path(path)`` holding ``sidecar``."""


class IndexBackend(Protocol):
    """Makes and opens the VectorIndex of one space; ``path`` is where its file (or only its sidecar) lives."""

    name: str

    def create(self, path: Path, dim: int, spec: str) -> VectorIndex:
        """A new, empty index of type ``spec`` (a FAISS factory string) for ``dim``-d vectors."""

    def load(self, path: Path) -> tuple[VectorIndex, dict[str, Any]]:
        """The saved index at ``path`` and its sidecar; IndexCorruptError when they cannot be used."""


class FaissBackend:
    """In-process FAISS indexes saved as ``<library>/index/<space>.faiss`` (moved to a GPU when one is seen)."""

    name = "faiss"

    def __init__(self, use_gpu: bool = True) -> None:
        self.use_gpu = use_gpu

    def create(self, path: Path, dim: int, spec: str) -> VectorIndex:
        from .faiss_index import FaissIndex

        return FaissIndex.create(dim, spec, use_gpu=self.use_gpu)

    def load(self, path: Path) -> tuple[VectorIndex, dict[str, Any]]:
        from .faiss_index import FaissIndex

        return FaissIndex.load(path, use_gpu=self.use_gpu, mmap=True)  # IVF lists mapped, copied in on change


def check_search(queries: np.ndarray, k: int) -> np.ndarray:
    """The checks every index applies to a search, for callers that have no index yet (an empty space):
    ``k`` a positive integer, queries finite float32 rows. Returns the queries as a 2-D array."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    if q.ndim != 2:
        raise ValueError(f"queries must have shape (n, dim), got {np.shape(queries)}")
    if not np.isfinite(q).all():
        bad = q[~np.isfinite(q)][0]
        raise ValueError(f"queries contain a non-finite value ({bad}); NaN and inf are not allowed")
    return q


def as_matrix(name: str, x: object, dim: int) -> np.ndarray:
    """``x`` as contiguous float32 rows of width ``dim``, all finite (ValueError naming ``name`` otherwise)."""
    arr = np.asarray(x, dtype=np.float32)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != dim:
        raise ValueError(f"{name} must have shape (n, {dim}), got {np.shape(x)}")
    if not np.isfinite(arr).all():
        bad = arr[~np.isfinite(arr)][0]
        raise ValueError(f"{name} contain a non-finite value ({bad}); NaN and inf are not allowed")
    return np.ascontiguousarray(arr)


def as_ids(x: object) -> np.ndarray:
    """``x`` as a flat int64 array of catalog ids (non-negative integers)."""
    ids = np.asarray(x)
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError(f"ids must be integers, got dtype {ids.dtype}")
    ids = ids.astype(np.int64, copy=False).reshape(-1)
    if ids.size and ids.min() < 0:
        raise ValueError(f"ids must be >= 0, got {int(ids.min())}")
    return np.ascontiguousarray(ids)


def new_entries(index: VectorIndex, ids: object, vectors: object) -> tuple[np.ndarray, np.ndarray]:
    """Checked arguments of ``VectorIndex.add``: one vector per id, ids unique and not in the index yet."""
    ids, x = as_ids(ids), as_matrix("vectors", vectors, index.dim)
    if len(ids) != len(x):
        raise ValueError(f"{len(ids)} ids but {len(x)} vectors")
    if len(ids) and (len(np.unique(ids)) != len(ids) or index.contains(ids).any()):
        raise ValueError("ids must be unique and not in the index yet (remove them first to replace)")
    return ids, x
