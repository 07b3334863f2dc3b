"""Re-ranked IVF specs (``…,Refine(<codes>)``): fast-scan candidates re-scored from float16 copies."""

from __future__ import annotations

import numpy as np
import pytest

from mmrag.index.faiss_index import FaissIndex
from mmrag.index.milvus_index import milvus_index_params
from mmrag.index.refine import split_refine
from mmrag.index.spec import DEFAULT_K_FACTOR, estimate_bytes, trainable_spec, validate_spec

DIM = 32
N = 4000
SPEC = "IVF64,PQ16x4fs,Refine(SQfp16)"


@pytest.fixture(scope="module")
def data(clustered) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # type: ignore[no-untyped-def]
    return np.arange(7, 7 + 3 * N, 3, dtype=np.int64), clustered(N, DIM, seed=0), clustered(100, DIM, seed=1)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def built(ids: np.ndarray, x: np.ndarray, spec: str = SPEC) -> FaissIndex:
    index = FaissIndex.create(DIM, spec, use_gpu=False)
    index.add(ids, x)
    return index


def test_recall_and_exact_scores(data, exact) -> None:  # type: ignore[no-untyped-def]
    ids, x, q = data
    index = built(ids, x)
    assert index.k_factor == DEFAULT_K_FACTOR and index.nprobe is not None
    result = index.search(q, 10)
    assert recall(result.ids, exact(x, ids, q, 10)) >= 0.95
    by_id = dict(zip(ids.tolist(), x, strict=True))
    top = np.array([by_id[int(i)] for i in result.ids[:, 0]])
    assert np.allclose(result.scores[:, 0], np.sum(q * top, axis=1), atol=2e-3)  # re-scored, float16 copies
    assert (np.diff(result.scores, axis=1) <= 1e-6).all()
    index.k_factor = 1  # no re-rank margin: the 4-bit codes alone order the list
    assert recall(index.search(q, 10).ids, exact(x, ids, q, 10)) < recall(result.ids, exact(x, ids, q, 10))
    with pytest.raises(ValueError, match="k_factor"):
        index.k_factor = 0


def test_add_remove_and_readd(data) -> None:  # type: ignore[no-untyped-def]
    ids, x, _ = data
    index = built(ids[:2000], x[:2000])
    index.add(ids[2000:], x[2000:])
    assert len(index) == N and (index.search(x[:5], 1).ids[:, 0] == ids[:5]).all()
    assert index.remove([ids[0], ids[1], 5]) == 2 and len(index) == N - 2
    found = index.search(x[:2], 10).ids
    assert ids[0] not in found and ids[1] not in found
    assert set(index.ids().tolist()) == set(ids[2:].tolist())
    index.add(ids[:1], x[1:2])  # an id comes back with another vector
    assert index.search(x[1:2], 1).ids[0, 0] == ids[0]
    assert np.allclose(index.faiss_index.reconstruct(int(ids[0])), x[1], atol=1e-3)
    index.clear()
    assert len(index) == 0 and index.is_trained and (index.search(x[:1], 3).ids == -1).all()


@pytest.mark.parametrize("n_allowed", [3, 40, 4000])
def test_filters(n_allowed: int, data, exact) -> None:  # type: ignore[no-untyped-def]
    ids, x, q = data
    index = built(ids, x)
    allowed = np.random.default_rng(n_allowed).choice(ids, min(n_allowed, N), replace=False)
    index.nprobe = 1  # as unfavourable as it gets: short rows are redone exactly
    result = index.search(q[:20], 10, allowed_ids=allowed)
    want = min(10, len(allowed))
    assert ((result.ids >= 0).sum(axis=1) == want).all()
    assert np.isin(result.ids[result.ids >= 0], allowed).all()


def test_selector_path_filters_the_scan(data, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from mmrag.index import faiss_index

    ids, x, q = data
    index = built(ids, x)
    monkeypatch.setattr(faiss_index, "EXACT_MAX", 0)  # force the IDSelector through the fast-scan base
    allowed = ids[::2]
    result = index.search(q[:20], 10, allowed_ids=allowed)
    assert ((result.ids >= 0).sum(axis=1) == 10).all() and np.isin(result.ids, allowed).all()


@pytest.mark.parametrize("mmap", [False, True])
def test_save_and_open(mmap: bool, data, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ids, x, q = data
    index = built(ids, x)
    index.nprobe, index.k_factor = 8, 4
    index.remove(ids[:10])
    path = tmp_path / "image.faiss"
    meta = index.save(path, generation=3)
    assert meta["spec"] == SPEC and meta["count"] == N - 10
    opened, _ = FaissIndex.load(path, use_gpu=False, mmap=mmap)
    assert (opened.spec, len(opened), opened.nprobe, opened.k_factor) == (SPEC, N - 10, 8, 4)
    assert (opened.search(q, 10).ids == index.search(q, 10).ids).all()
    assert opened.mapped == mmap  # the float16 store stays in the file until a change copies it in
    opened.remove(ids[10:20])  # a removal first: FAISS aborts the process on changing a mapped store
    assert not opened.mapped
    opened.add(ids[:10], x[:10])
    assert len(opened) == N - 10 and opened.search(x[:1], 1).ids[0, 0] == ids[0]
    opened.save(path, generation=4)
    again, _ = FaissIndex.load(path, use_gpu=False, mmap=mmap, full_check=True)
    assert len(again) == N - 10 and set(again.ids().tolist()) == set(opened.ids().tolist())


def test_too_few_training_points_fall_back(data) -> None:  # type: ignore[no-untyped-def]
    ids, x, _ = data
    assert trainable_spec(SPEC, 10) == "IVF1,SQfp16"
    assert trainable_spec("IVF64,PQ16x4fs", 10) == "IVF1,SQ8"
    assert trainable_spec(SPEC, 64 * 39) == SPEC
    index = built(ids[:10], x[:10])
    assert index.spec == "IVF1,SQfp16" and index.requested_spec == SPEC
    assert index.search(x[3:4], 1).ids[0, 0] == ids[3]


def test_spec_parsing_and_estimates() -> None:
    assert split_refine(SPEC) == ("IVF64,PQ16x4fs", "SQfp16")
    assert split_refine("IVF64,SQfp16") is None
    assert validate_spec(f" {SPEC} ", DIM) == SPEC
    for bad in ("IVF64,PQ16x4fs,RFlat", "PQ16x4fs,Refine(SQfp16)", "IVF64,PQ16x4fs,Refine(HNSW8)",
                "IVF64,PQ16x4fs,Refine(nonsense)"):
        with pytest.raises(ValueError, match="invalid index spec"):
            validate_spec(bad, DIM)
    n, dim = 1_000_000, 512
    refined = estimate_bytes("IVF4096,PQ256x4fs,Refine(SQfp16)", n, dim)
    assert estimate_bytes("IVF4096,SQfp16", n, dim) < refined < estimate_bytes("IVF4096,Flat", n, dim)


def test_milvus_maps_refine_to_ivf_flat() -> None:
    assert milvus_index_params("IVF4096,PQ128x4fs,Refine(SQfp16)") == ("IVF_FLAT", {"nlist": 4096})


def test_memory_estimate(data) -> None:  # type: ignore[no-untyped-def]
    ids, x, _ = data
    index = built(ids, x)
    assert N * DIM * 2 < index.memory_bytes() < N * (DIM * 2 + DIM + 128) + 64 * DIM * 4


@pytest.mark.parametrize("removed", [1, 31, 32, 33, 700])
def test_entries_added_after_a_removal_are_scored_right(removed: int, data) -> None:  # type: ignore
    """FAISS leaves a removed entry's fast-scan codes behind; a later add must not be mixed into them."""
    ids, x, _ = data

    def trained() -> FaissIndex:
        index = FaissIndex.create(DIM, SPEC, use_gpu=False)
        index.train(x)
        index.k_factor, index.nprobe = 1, 64  # the base's own order and every list: a mis-packed code shows
        return index

    changed, fresh = trained(), trained()
    changed.add(ids[100:], x[100:])
    changed.remove(ids[100:100 + removed])
    changed.add(ids[:100], x[:100])
    fresh.add(ids[100 + removed:], x[100 + removed:])
    fresh.add(ids[:100], x[:100])
    assert (changed.search(x[:100], 1).ids == fresh.search(x[:100], 1).ids).mean() >= 0.97
    changed.clear()
    changed.add(ids[100 + removed:], x[100 + removed:])
    changed.add(ids[:100], x[:100])
    assert (changed.search(x[:100], 1).ids == fresh.search(x[:100], 1).ids).mean() >= 0.97


def test_auto_picks_fast_scan_for_large_sets_only() -> None:
    from mmrag.index.spec import REFINE_MIN_VECTORS, choose_nlist, choose_spec

    big = REFINE_MIN_VECTORS
    assert choose_spec(big, 512) == f"IVF{choose_nlist(big)},PQ256x4fs,Refine(SQfp16)"
    assert choose_spec(big, 384).endswith(",PQ192x4fs,Refine(SQfp16)")
    assert choose_spec(big - 1, 512).endswith(",SQfp16") and "Refine" not in choose_spec(big - 1, 512)
    assert choose_spec(big, 511).endswith(",SQfp16")  # fast scan wants 2 dims a code
    validate_spec(choose_spec(1_000_000, 512), 512)


def test_index_set_round_trip_with_a_refine_spec(store, catalog, clustered, tmp_path) -> None:  # type: ignore
    """Built from the catalog, saved, opened memory-mapped by a new IndexSet, synced after catalog changes."""
    from mmrag.index.index_set import IndexSet

    spec, vecs = "IVF8,PQ8x4fs,Refine(SQfp16)", clustered(700, 16, seed=3)
    store.put("image", range(1, 601), vecs[:600])
    first = IndexSet(catalog, tmp_path / "index", use_gpu=False)
    first.rebuild("image", spec)
    first.save()
    second = IndexSet(catalog, tmp_path / "index", use_gpu=False)
    index = second.get("image")
    assert index.spec == spec and len(index) == 600 and index.mapped
    store.delete("image", [1, 2])
    store.put("image", range(601, 611), vecs[600:610])
    second.save()  # syncs the changes into the mapped index (copied in first), then writes it
    third = IndexSet(catalog, tmp_path / "index", use_gpu=False).get("image")
    assert len(third) == 608 and not third.contains([1, 2]).any() and third.contains([605]).all()
    assert int(third.search(vecs[604:605], 1).ids[0, 0]) == 605
