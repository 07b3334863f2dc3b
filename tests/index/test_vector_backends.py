"""One suite, every vector backend: FAISS in-process and Milvus through a real server (tests/milvus_server.py).

Each test states a promise of the ``VectorIndex`` seam; a backend that breaks one fails here by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmrag.index.faiss_index import FaissIndex

DIM = 32
Factory = Callable[[str], Any]


@pytest.fixture(params=["faiss", "milvus"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def make_index(backend: str, request: pytest.FixtureRequest) -> Factory:
    if backend == "faiss":
        return lambda spec: FaissIndex.create(DIM, spec, use_gpu=False)
    from mmrag.index.milvus_index import MilvusIndex, connect

    uri = request.getfixturevalue("milvus_uri")
    client = connect(uri)
    return lambda spec: MilvusIndex.create(client, f"t_{uuid.uuid4().hex}", DIM, spec, uri=uri)


def _reopen(index: Any, path: Path) -> Any:
    if isinstance(index, FaissIndex):
        return FaissIndex.load(path, use_gpu=False)
    from mmrag.index.milvus_index import MilvusIndex

    return MilvusIndex.load(index.client, path, uri=index.uri)


@pytest.fixture
def data(clustered: Callable[..., np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    x = clustered(600, DIM, seed=3)
    return np.arange(1000, 1600, dtype=np.int64), x


def test_added_vectors_are_found_by_themselves(make_index: Factory, data: tuple[np.ndarray, np.ndarray]) -> None:
    ids, x = data
    index = make_index("Flat")
    index.add(ids, x)
    assert len(index) == len(ids)
    found = index.search(x[:20], 5)
    assert found.ids.shape == (20, 5)
    assert (found.ids[:, 0] == ids[:20]).all()
    np.testing.assert_allclose(found.scores[:, 0], 1.0, atol=1e-4)


def test_flat_results_equal_exact_search(make_index: Factory, data: tuple[np.ndarray, np.ndarray],
        clustered: Callable[..., np.ndarray], exact: Callable[..., np.ndarray]) -> None:
    ids, x = data
    index = make_index("Flat")
    index.add(ids, x)
    queries = clustered(10, DIM, seed=9)
    expected = exact(x, ids, queries, 10)
    assert (index.search(queries, 10).ids == expected).all()


def test_remove_counts_present_ids_and_hides_them(make_index: Factory, data: tuple[np.ndarray, np.ndarray]) -> None:
    ids, x = data
    index = make_index("Flat")
    index.add(ids, x)
    assert index.remove([ids[0], ids[1], 999_999]) == 2
    assert len(index) == len(ids) - 2
    assert index.contains([ids[0], ids[2]]).tolist() == [False, True]
    assert ids[0] not in index.search(x[:1], 10).ids
    assert (index.ids() == ids[2:]).all()


def test_adding_a_present_id_is_refused(make_index: Factory, data: tuple[np.ndarray, np.ndarray]) -> None:
    ids, x = data
    index = make_index("Flat")
    index.add(ids[:10], x[:10])
    with pytest.raises(ValueError, match="not in the index yet"):
        index.add(ids[:1], x[:1])


def test_allowed_ids_limit_results(make_index: Factory, data: tuple[np.ndarray, np.ndarray],
                                   exact: Callable[..., np.ndarray]) -> None:
    ids, x = data
    index = make_index("Flat")
    index.add(ids, x)
    allowed = ids[100:130]
    found = index.search(x[:5], 10, allowed_ids=allowed)
    assert np.isin(found.ids[found.ids >= 0], allowed).all()
    expected = exact(x[100:130], allowed, x[:5], 10)
    assert (found.ids == expected).all()


def test_empty_allowed_set_finds_nothing(make_index: Factory, data: tuple[np.ndarray, np.ndarray]) -> None:
    ids, x = data
    index = make_index("Flat")
    index.add(ids, x)
    found = index.search(x[:2], 3, allowed_ids=np.array([], dtype=np.int64))
    assert (found.ids == -1).all() and np.isneginf(found.scores).all()


def test_bad_arguments_raise_value_errors(make_index: Factory, data: tuple[np.ndarray, np.ndarray]) -> None:
    ids, x = data
    index = make_index("Flat")
    index.add(ids[:5], x[:5])
    with pytest.raises(ValueError, match="k must be"):
        index.search(x[:1], 0)
    with pytest.raises(ValueError, match="shape"):
        index.search(np.ones((1, DIM + 1), np.float32), 3)
    with pytest.raises(ValueError, match="NaN"):
        index.search(np.full((1, DIM), np.nan, np.float32), 3)


def test_save_and_load_round_trip(make_index: Factory, data: tuple[np.ndarray, np.ndarray], tmp_path: Path) -> None:
    ids, x = data
    index = make_index("Flat")
    index.add(ids, x)
    path = tmp_path / "image.faiss"
    index.save(path, generation=7)
    loaded, meta = _reopen(index, path)
    assert meta["generation"] == 7 and meta["count"] == len(ids)
    assert (loaded.search(x[:3], 3).ids == index.search(x[:3], 3).ids).all()


@pytest.mark.parametrize("spec", ["IVF8,Flat", "IVF8,SQfp16"])  # SQfp16: what `auto` picks for IVF
def test_ivf_recall_matches_exact_search(make_index: Factory, data: tuple[np.ndarray, np.ndarray],
        clustered: Callable[..., np.ndarray], exact: Callable[..., np.ndarray], spec: str) -> None:
    ids, x = data
    x = x.astype(np.float16).astype(np.float32)  # the catalog's precision: float16 codes then lose nothing
    index = make_index(spec)
    index.add(ids, x)
    index.nprobe = 8  # every list: IVF must then equal exact search
    queries = clustered(10, DIM, seed=11)
    expected = exact(x, ids, queries, 10)
    assert (index.search(queries, 10).ids == expected).all()


def test_clear_empties_the_index(make_index: Factory, data: tuple[np.ndarray, np.ndarray]) -> None:
    ids, x = data
    index = make_index("Flat")
    index.add(ids, x)
    index.clear()
    assert len(index) == 0
    assert (index.search(x[:1], 3).ids == -1).all()


def test_every_auto_spec_has_a_milvus_index_type() -> None:
    from mmrag.index.milvus_index import milvus_index_params
    from mmrag.index.spec import choose_spec

    for n, budget_mb in ((1_000, 4096), (1_000_000, 4096), (1_000_000, 1024), (1_000_000, 200)):
        spec = choose_spec(n, DIM, budget_mb)
        assert milvus_index_params(spec)[0] in {"FLAT", "IVF_FLAT", "IVF_SQ8", "IVF_PQ"}, spec
    assert milvus_index_params("IVF4096,SQfp16") == ("IVF_FLAT", {"nlist": 4096})
