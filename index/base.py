"""The VectorIndex protocol: the seam between mmrag and a vector engine (FAISS today, a sharded FAISS or a
vector database when a library outgrows one machine)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class SearchResult:
    """Scores and ids of shape (n_queries, k); missing results have id -1 and score -inf."""

    scores: np.ndarray
    ids: np.ndarray


@runtime_checkable
class VectorIndex(Protocol):
    """Inner-product search over L2-normalised float32 vectors keyed by int64 catalog ids."""

    dim: int
    spec: str

    def __len__(self) -> int: ...

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors under the given ids (ids must not be present yet)."""

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        """Remove ids; returns how many were present."""

    def search(
        self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None
    ) -> SearchResult:
        """k nearest by inner product; with allowed_ids only those ids can be returned."""

    def ids(self) -> np.ndarray:
        """All ids in the index (int64)."""

    def save(self, path: Path, **sidecar: object) -> None:
        """Write atomically (temp file, fsync, rename) with a JSON sidecar."""
