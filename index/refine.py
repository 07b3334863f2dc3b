"""Re-ranked IVF specs, ``<IVF spec>,Refine(<flat codes>)``: a cheap IVF scan proposes ``k * k_factor``
candidates, re-scored exactly from a second copy of the vectors (e.g. ``IVF4096,PQ256x4fs,Refine(SQfp16)``:
4-bit fast-scan PQ lists, float16 copies for the re-rank).

FAISS's ``IndexRefine`` is the container (one file holds the base, the store and ``k_factor``) but not the
searcher: it cannot take ids, remove or filter. Here the base is an IVF index that keeps the ids itself, with
no direct map (fast-scan lists cannot remove through one), and the store an ``IndexIDMap2`` over flat codes,
so both add and remove by id, and a filter (an IDSelector) applies to the base's scan.
"""

from __future__ import annotations

import re

import numpy as np

from ..extras import optional_import

faiss = optional_import("faiss")  # from the cpu or gpu extra

RERANK_CHUNK = 256  # queries re-scored at once (bounds the gathered candidates to ~256 * k * k_factor * dim)
_REFINE = re.compile(r"^(?P<base>.+),Refine\((?P<store>[^()]+)\)$")


def split_refine(spec: str) -> tuple[str, str] | None:
    """``(base, store)`` of a ``…,Refine(<codes>)`` spec, else None."""
    match = _REFINE.match(spec.strip())
    return (match["base"], match["store"]) if match else None


def build_refine(base: faiss.Index, store: faiss.Index, k_factor: int) -> faiss.IndexRefine:
    """The container over ``base`` (an IVF index) and ``store`` (flat codes, wrapped here in IndexIDMap2)."""
    by_id = faiss.IndexIDMap2(store)
    store.this.disown()
    by_id.own_fields = True
    out = faiss.IndexRefine(base, by_id)
    base.this.disown()
    by_id.this.disown()
    out.own_fields = True
    out.k_factor = float(k_factor)
    return out


def is_refine(index: faiss.Index) -> bool:
    return isinstance(faiss.downcast_index(index), faiss.IndexRefine)


class Refined:
    """Adds, removes and searches an IndexRefine container by id (see the module docstring)."""

    def __init__(self, index: faiss.Index) -> None:
        self.index = faiss.downcast_index(index)
        self.base = faiss.downcast_index(self.index.base_index)
        self.store = faiss.downcast_index(self.index.refine_index)

    @property
    def k_factor(self) -> int:
        return int(self.index.k_factor)

    @k_factor.setter
    def k_factor(self, value: int) -> None:
        if isinstance(value, bool) or int(value) < 1:
            raise ValueError(f"k_factor must be an integer >= 1, got {value!r}")
        self.index.k_factor = float(int(value))

    @property
    def mapped(self) -> bool:
        """True while the store's codes are read from the memory-mapped file (FAISS IO_FLAG_MMAP_IFC)."""
        return not self._codes().is_owned

    def own(self) -> None:
        """Copy memory-mapped store codes into memory before a change (FAISS aborts on changing a mapping)."""
        codes = self._codes()
        size = codes.size()
        owned = faiss.MaybeOwnedVectorUInt8()
        owned.resize(size)
        faiss.rev_swig_ptr(owned.data(), size)[:] = faiss.rev_swig_ptr(codes.data(), size)
        faiss.downcast_index(self.store.index).codes = owned  # copied in; the mapping is released

    def _codes(self) -> faiss.MaybeOwnedVectorUInt8:
        return faiss.downcast_index(self.store.index).codes

    def add(self, ids: np.ndarray, x: np.ndarray) -> None:
        self.base.add_with_ids(x, ids)
        self.store.add_with_ids(x, ids)
        self.index.ntotal = self.base.ntotal

    def remove(self, ids: np.ndarray) -> None:
        selector = faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids))
        before = self._list_sizes()
        self.base.remove_ids(selector)
        clear_stale_tails(self.base, np.flatnonzero(self._list_sizes() != before))
        self.store.remove_ids(selector)
        self.index.ntotal = self.base.ntotal

    def _list_sizes(self) -> np.ndarray:
        lists = self.base.invlists
        return np.fromiter((lists.list_size(i) for i in range(self.base.nlist)), np.int64, self.base.nlist)

    def memory_bytes(self) -> int:
        """Base codes + ids + centroids, store codes + ids + the id -> position map."""
        n = int(self.index.ntotal)
        store_code = faiss.downcast_index(self.store.index).code_size
        return n * (self.base.code_size + 8) + self.base.nlist * self.base.d * 4 + n * (store_code + 8 + 48)

    def search(self, q: np.ndarray, k: int,
               params: faiss.SearchParameters | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The base's top ``k * k_factor`` (``params``: its nprobe / selector), re-scored from the store."""
        candidates = self.base.search(q, k * self.k_factor, params=params)[1]
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        labels = np.full((len(q), k), -1, dtype=np.int64)
        for start in range(0, len(q), RERANK_CHUNK):
            rows = slice(start, start + RERANK_CHUNK)
            scores[rows], labels[rows] = self._rerank(q[rows], candidates[rows], k)
        return scores, labels

    def _rerank(self, q: np.ndarray, candidates: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        known = np.unique(candidates[candidates >= 0])
        width = min(k, candidates.shape[1])
        scores = np.full((len(q), k), -np.inf, dtype=np.float32)
        labels = np.full((len(q), k), -1, dtype=np.int64)
        if not len(known):
            return scores, labels
        vectors = self.store.reconstruct_batch(known)
        exact = np.einsum("qd,qcd->qc", q, vectors[np.searchsorted(known, np.maximum(candidates, 0))])
        exact[candidates < 0] = -np.inf
        order = np.argsort(-exact, axis=1, kind="stable")[:, :width]
        scores[:, :width] = np.take_along_axis(exact, order, 1)
        labels[:, :width] = np.take_along_axis(candidates, order, 1)
        labels[~np.isfinite(scores)] = -1
        return scores, labels


def clear_stale_tails(ivf: faiss.IndexIVF, lists: np.ndarray) -> None:
    """Zero the codes past the end of each of ``lists`` in its last block (fast-scan block lists only).

    FAISS 1.15 leaves a removed entry's 4-bit codes in the block it vacated, and a later add ORs the new
    entry's codes into them (measured: every entry added after a removal was then mis-scored). Re-packing the
    live part of the last block over zeros keeps the lists as a fresh build would have them.
    """
    lists_ = faiss.downcast_InvertedLists(ivf.invlists)
    if not isinstance(lists_, faiss.BlockInvertedLists):
        return
    packer, per_block, block_size = lists_.packer, lists_.n_per_block, lists_.block_size
    flat = np.zeros((per_block, packer.code_size), dtype=np.uint8)
    for list_no in lists.tolist():
        size = lists_.list_size(list_no)
        used = size % per_block
        if not used:
            continue
        data = faiss.rev_swig_ptr(lists_.get_codes(list_no), -(-size // per_block) * block_size)
        block = data[(size // per_block) * block_size:]
        packer.unpack_all(faiss.swig_ptr(block), faiss.swig_ptr(flat))
        flat[used:] = 0
        block[:] = 0
        packer.pack_all(faiss.swig_ptr(flat), faiss.swig_ptr(block))
