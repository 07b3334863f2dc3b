from __future__ import annotations

import numpy as np
import pytest

from mmrag.index import faiss_index
from mmrag.index.base import VectorIndex
from mmrag.index.faiss_index import FaissIndex
from mmrag.index.spec import choose_nlist

DIM = 32
N = 4000


@pytest.fixture(scope="module")
def data(clustered) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    x = clustered(N, DIM, seed=0)
    q = clustered(200, DIM, seed=1)
    return np.arange(1000, 1000 + N, dtype=np.int64), x, q


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def built(spec: str, ids: np.ndarray, x: np.ndarray) -> FaissIndex:
    index = FaissIndex.create(DIM, spec, use_gpu=False)
    index.add(ids, x)
    return index


@pytest.fixture(scope="module")
def ivf(shared) -> FaissIndex:  # type: ignore[no-untyped-def]
    return shared(f"IVF{choose_nlist(N)},Flat")


@pytest.fixture(scope="module")
def shared(data):  # type: ignore[no-untyped-def]
    """Indexes over all of ``data`` built once per spec; tests must restore what they change."""
    cache: dict[str, FaissIndex] = {}

    def get(spec: str) -> FaissIndex:
        if spec not in cache:
            cache[spec] = built(spec, data[0], data[1])
        return cache[spec]

    return get


@pytest.fixture(scope="module")
def hnsw(shared) -> FaissIndex:  # type: ignore[no-untyped-def]
    return shared("HNSW16")


def test_implements_protocol(ivf: FaissIndex) -> None:
    assert isinstance(ivf, VectorIndex)
    assert ivf.dim == DIM and len(ivf) == N


def test_flat_is_exact(data, exact) -> None:  # type: ignore[no-untyped-def]
    ids, x, q = data
    result = built("Flat", ids, x).search(q, 10)
    assert (result.ids == exact(x, ids, q, 10)).mean() > 0.99  # ties aside, identical order
    assert np.allclose(result.scores[:, 0], np.max(q @ x.T, axis=1), atol=1e-5)


def test_ivf_default_nprobe_recall(ivf: FaissIndex, data, exact) -> None:  # type: ignore[no-untyped-def]
    ids, x, q = data
    truth = exact(x, ids, q, 10)
    assert recall(ivf.search(q, 10).ids, truth) >= 0.95
    default = ivf.nprobe
    try:
        ivf.nprobe = 1  # the data is not trivial: one list is not enough
        assert recall(ivf.search(q, 10).ids, truth) < 0.95
    finally:
        ivf.nprobe = default


def test_hnsw_recall(hnsw: FaissIndex, data, exact) -> None:  # type: ignore[no-untyped-def]
    ids, x, q = data
    assert recall(hnsw.search(q, 10).ids, exact(x, ids, q, 10)) >= 0.95


def test_ivf_pq_and_sq_work(data, exact) -> None:  # type: ignore[no-untyped-def]
    ids, x, q = data
    truth = exact(x, ids, q, 10)
    assert recall(built("IVF64,SQ8", ids, x).search(q, 10).ids, truth) >= 0.9
    assert recall(built("IVF64,PQ8x4", ids, x).search(q, 10).ids, truth) >= 0.3


@pytest.mark.parametrize("spec", ["Flat", "IVF64,Flat", "IVF64,SQ8", "HNSW16", "PQ32x4"])
def test_add_remove_search(spec: str, data) -> None:  # type: ignore[no-untyped-def]
    ids, x, q = data
    index = built(spec, ids[:2000], x[:2000])
    index.add(ids[2000:], x[2000:])
    assert len(index) == N
    top = index.search(x[:5], 1).ids[:, 0]
    assert (top == ids[:5]).all()
    assert index.remove([ids[0], ids[1], 99]) == 2
    assert len(index) == N - 2
    assert index.remove([ids[0]]) == 0
    found = index.search(x[:2], 5).ids
    assert ids[0] not in found and ids[1] not in found
    assert set(index.ids()) == set(ids[2:])
    index.add(ids[:1], x[:1])  # an id can come back after removal
    assert index.search(x[:1], 1).ids[0, 0] == ids[0]
    assert index.memory_bytes() > 0


@pytest.mark.parametrize("spec", ["Flat", "IVF64,Flat", "IVF64,SQ8", "HNSW16", "PQ32x4"])
@pytest.mark.parametrize("n_allowed", [3, 12, 40, 1500])
def test_selective_filter_still_returns_k(spec: str, n_allowed: int, data, exact, shared) -> None:  # type: ignore
    ids, x, q = data
    index = shared(spec)
    default = index.nprobe
    if default:
        index.nprobe = 1  # as unfavourable as it gets
    allowed = np.random.default_rng(n_allowed).choice(ids, n_allowed, replace=False)
    try:
        result = index.search(q[:20], 10, allowed_ids=np.append(allowed, [5, 6]))  # unknown ids are ignored
    finally:
        if default:
            index.nprobe = default
    want = min(10, n_allowed)
    assert ((result.ids >= 0).sum(axis=1) == want).all()
    assert np.isin(result.ids[result.ids >= 0], allowed).all()
    assert np.isneginf(result.scores[result.ids < 0]).all()
    if spec in ("Flat", "IVF64,Flat", "HNSW16"):  # exact among the allowed ids
        keep = np.isin(ids, allowed)
        truth = exact(x[keep], ids[keep], q[:20], want)
        assert recall(result.ids[:, :want], truth) >= 0.97


@pytest.mark.parametrize("spec", ["IVF64,Flat", "HNSW16"])
def test_filter_through_selector_path_falls_back_when_short(spec: str, data, monkeypatch) -> None:  # type: ignore
    ids, x, q = data
    monkeypatch.setattr(faiss_index, "EXACT_MAX", 0)  # force the FAISS selector path
    index = built(spec, ids, x)
    if index.nprobe:
        index.nprobe = 1
    else:
        index.ef_search = 1
    calls = []
    real = faiss_index.exact_top_k
    monkeypatch.setattr(faiss_index, "exact_top_k", lambda *a: calls.append(a) or real(*a))
    allowed = ids[::200]  # 20 ids spread over all clusters
    result = index.search(q[:30], 10, allowed_ids=allowed)
    assert ((result.ids >= 0).sum(axis=1) == 10).all()
    assert np.isin(result.ids, allowed).all()
    if spec.startswith("IVF"):
        assert not calls  # nprobe was raised with the selectivity
    removed = index.remove(allowed[:15])
    assert removed == 15
    result = index.search(q[:5], 10, allowed_ids=allowed)
    assert ((result.ids >= 0).sum(axis=1) == 5).all()


def test_hnsw_tombstones(data) -> None:  # type: ignore[no-untyped-def]
    ids, x, q = data
    index = built("HNSW16", ids[:1000], x[:1000])
    assert index.remove(ids[:100]) == 100
    assert index.tombstones == 100 and len(index) == 900 and not index.needs_rebuild
    found = index.search(x[:100], 10).ids
    assert not np.isin(found, ids[:100]).any()
    assert (found >= 0).all()
    index.remove(ids[100:300])
    assert index.needs_rebuild
    index.add(ids[:1], x[500:501])  # a replaced vector: the old one stays a tombstone
    assert index.search(x[500:501], 2).ids[0].tolist() in ([ids[0], ids[500]], [ids[500], ids[0]])
    assert index.search(x[:1], 1).ids[0, 0] != ids[0]


def test_too_few_points_fall_back_to_smaller_nlist(data) -> None:  # type: ignore[no-untyped-def]
    ids, x, q = data
    index = FaissIndex.create(DIM, "IVF1024,Flat", use_gpu=False)
    index.add(ids[:500], x[:500])
    assert index.spec == "IVF8,Flat" and index.requested_spec == "IVF1024,Flat" and index.nlist == 8
    index.add(ids[500:], x[500:])
    assert index.search(x[600:601], 1).ids[0, 0] == ids[600]


def test_memory_estimate(data) -> None:  # type: ignore[no-untyped-def]
    ids, x, _ = data
    flat = built("Flat", ids, x).memory_bytes()
    assert N * DIM * 4 <= flat <= N * (DIM * 4 + 128)
    assert built("IVF64,SQ8", ids, x).memory_bytes() < flat


def test_empty_and_short_results() -> None:
    index = FaissIndex.create(DIM, "Flat", use_gpu=False)
    result = index.search(np.ones(DIM, np.float32), 3)
    assert result.ids.shape == (1, 3) and (result.ids == -1).all() and np.isneginf(result.scores).all()
    index.add([7], np.eye(DIM, dtype=np.float32)[:1])
    result = index.search(np.ones((2, DIM), np.float32), 3)
    assert result.ids[:, 0].tolist() == [7, 7] and (result.ids[:, 1:] == -1).all()


@pytest.mark.parametrize("k", [0, -1, 2.5, True, "3"])
def test_bad_k(k: object, ivf: FaissIndex) -> None:
    with pytest.raises(ValueError, match="k must be a positive integer"):
        ivf.search(np.ones(DIM, np.float32), k)  # type: ignore[arg-type]


def test_bad_vectors_and_queries(ivf: FaissIndex) -> None:
    q = np.ones((1, DIM), np.float32)
    with pytest.raises(ValueError, match=r"\(n, 32\)"):
        ivf.search(np.ones(DIM + 1, np.float32), 3)
    q[0, 3] = np.nan
    with pytest.raises(ValueError, match="nan"):
        ivf.search(q, 3)
    index = FaissIndex.create(DIM, "Flat", use_gpu=False)
    bad = np.ones((2, DIM), np.float32)
    bad[1, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        index.add([1, 2], bad)
    with pytest.raises(ValueError, match="2 ids but 1 vectors"):
        index.add([1, 2], np.ones((1, DIM), np.float32))
    with pytest.raises(ValueError, match=">= 0"):
        index.add([-3], np.ones((1, DIM), np.float32))
    index.add([1], np.ones((1, DIM), np.float32))
    with pytest.raises(ValueError, match="not in the index yet"):
        index.add([1], np.ones((1, DIM), np.float32))
    assert len(index) == 1


def test_bad_create_and_parameters(ivf: FaissIndex) -> None:
    with pytest.raises(ValueError, match="'IVF,,Flat'"):
        FaissIndex.create(DIM, "IVF,,Flat")
    with pytest.raises(ValueError, match="dim"):
        FaissIndex.create(0, "Flat")
    with pytest.raises(ValueError, match=rf"1\.\.{ivf.nlist}"):
        ivf.nprobe = ivf.nlist + 1
    with pytest.raises(ValueError, match="IVF indexes only"):
        FaissIndex.create(DIM, "Flat").nprobe = 3


@pytest.mark.gpu
@pytest.mark.parametrize("spec", ["Flat", "IVF64,Flat"])
def test_gpu_copy_matches_cpu(spec: str, data) -> None:  # type: ignore[no-untyped-def]
    import faiss

    if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() == 0:
        pytest.skip("needs faiss-gpu and a CUDA device")
    ids, x, q = data
    index = FaissIndex.create(DIM, spec, use_gpu=True)
    index.add(ids, x)
    on_gpu = index.search(q, 10)
    assert index.device == "gpu"
    cpu = FaissIndex.create(DIM, spec, use_gpu=False)
    cpu.add(ids, x)
    assert recall(on_gpu.ids, cpu.search(q, 10).ids) >= 0.99
    filtered = index.search(q[:3], 5, allowed_ids=ids[:50])  # selectors run on the CPU form
    assert np.isin(filtered.ids, ids[:50]).all()
