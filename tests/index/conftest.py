"""Fixtures for the index layer: seeded clustered vectors and a real SQLite catalog in tmp_path."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pytest

from mmrag.catalog import Catalog
from mmrag.catalog.vectors import delete_vectors, put_vectors


def make_clustered(n: int, dim: int, seed: int = 0, clusters: int = 40) -> np.ndarray:
    """Normalised float32 vectors from a fixed Gaussian mixture (same mixture for every seed)."""
    centers = np.random.default_rng(1234).standard_normal((clusters, dim))
    rng = np.random.default_rng(seed)
    x = centers[rng.integers(0, clusters, n)] + 0.6 * rng.standard_normal((n, dim))
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.fixture(scope="package", autouse=True)
def _one_faiss_thread() -> Iterator[None]:
    """Tests use small data: one OpenMP thread avoids spin-waiting on a busy (CI) machine."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="session")
def clustered() -> Callable[..., np.ndarray]:
    return make_clustered


def exact_topk(x: np.ndarray, ids: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    scores = q @ x.T
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return ids[order]


@pytest.fixture(scope="session")
def exact() -> Callable[..., np.ndarray]:
    return exact_topk


class Store:
    """Writes vectors to the catalog the way ingest does (one transaction per call)."""

    def __init__(self, catalog: Catalog, model: str = "test-model") -> None:
        self.catalog = catalog
        self.model = model

    def put(self, space: str, ids: Sequence[int] | np.ndarray, vectors: np.ndarray) -> None:
        with self.catalog.session() as s:
            put_vectors(s, self.catalog, space, [int(i) for i in ids], vectors, self.model)
        if self.catalog.get_meta(f"model:{space}") is None:
            self.catalog.set_meta(f"model:{space}", self.model)

    def delete(self, space: str, ids: Sequence[int] | np.ndarray) -> None:
        with self.catalog.session() as s:
            delete_vectors(s, self.catalog, space, [int(i) for i in ids])


@pytest.fixture
def catalog(tmp_path) -> Iterator[Catalog]:  # type: ignore[no-untyped-def]
    cat = Catalog(f"sqlite:///{tmp_path}/c.sqlite")
    yield cat
    cat.dispose()


@pytest.fixture
def store(catalog: Catalog) -> Store:
    return Store(catalog)
