"""FaissIndex: the VectorIndex protocol on FAISS (inner product over L2-normalised float32, int64 ids).

How ids are kept depends on the index family:

* IVF (any codes, optionally behind a transform such as OPQ) stores ids natively, with a hash-table direct
  map so vectors can be reconstructed and removed by id.
* ``<IVF>,Refine(<codes>)`` keeps ids in both its parts and re-ranks the IVF's candidates (index/refine.py).
* Everything else is wrapped in ``IndexIDMap2``. Flat-code indexes (Flat, PQ, SQ) remove natively; graph
  indexes (HNSW) cannot, so a removed entry's id is overwritten with -1 (a tombstone) and searches skip it;
  ``needs_rebuild`` turns true when tombstones pile up.

Filtered search (``allowed_ids``) uses FAISS selectors. IVF and HNSW visit only part of the data, so with a
selective filter nprobe/efSearch are raised in proportion to the filter's selectivity; small allowed sets are
scored exactly from reconstructed vectors, and any row still short of results is redone exactly.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import files
from .base import SearchResult, as_ids, as_matrix, new_entries
from .exact import exact_top_k
from .refine import Refined, is_refine
from .spec import DEFAULT_EF_SEARCH, build_index, default_nprobe, extract_ivf, faiss, trainable_spec

log = logging.getLogger(__name__)

METRIC = "inner_product"
EXACT_MAX = 4096  # allowed sets up to this size are scored exactly (cheaper than a filtered probe)
MAX_EF_SEARCH = 4096
TOMBSTONE_REBUILD_FRACTION = 0.2
_ALL_IDS = (0, np.iinfo(np.int64).max)  # selector range of real ids (tombstones are -1)


class FaissIndex:
    """A FAISS index in CPU form (optionally searched on a GPU copy) implementing ``VectorIndex``."""

    metric = METRIC

    def __init__(self, index: faiss.Index, spec: str, *, requested_spec: str | None = None,
                 use_gpu: bool = True) -> None:
        self.spec = spec
        self.requested_spec = requested_spec or spec
        self.use_gpu = use_gpu
        self._gpu: faiss.Index | None = None
        self._gpu_failed = False
        self._gpu_lock = threading.Lock()
        self._sorted_ids: np.ndarray | None = None
        self._set_index(index)

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, dim: int, spec: str = "Flat", *, use_gpu: bool = True) -> FaissIndex:
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        return cls(_prepare(build_index(spec, int(dim))), spec.strip(), use_gpu=use_gpu)

    def _set_index(self, index: faiss.Index) -> None:
        self._index = index
        self.dim = int(index.d)
        self._ivf = extract_ivf(index)
        self._refined = Refined(index) if is_refine(index) else None
        self._idmap = faiss.downcast_index(index) if self._ivf is None else None
        inner = faiss.downcast_index(self._idmap.index) if self._idmap is not None else None
        self._hnsw = inner if isinstance(inner, faiss.IndexHNSW) else None
        self._tombstoning = inner is not None and not isinstance(inner, faiss.IndexFlatCodes)
        self._flat_scan = isinstance(inner, faiss.IndexFlat)  # exact scan that honours selectors
        self._tombstones = int(np.count_nonzero(self._id_map_view() < 0)) if self._tombstoning else 0
        self._invalidate()

    @classmethod
    def load(cls, path: Path, *, use_gpu: bool = True, mmap: bool = False,
             full_check: bool = False) -> tuple[FaissIndex, dict[str, Any]]:
        """Read and verify ``path`` (see files.read_index); returns the index and its sidecar.

        ``mmap``: IVF lists stay in the file (memory-mapped) until the first change copies them into memory.
        """
        index, meta = files.read_index(path, mmap=mmap, full_check=full_check)
        out = cls(index, meta["spec"], requested_spec=meta.get("requested_spec"), use_gpu=use_gpu)
        if out.dim != meta["dim"] or len(out) != meta["count"]:
            raise files.corrupt_error(Path(path), f"holds {len(out)} x {out.dim}, sidecar says "
                                             f"{meta['count']} x {meta['dim']}")
        if meta.get("nprobe") and out._ivf is not None:
            out.nprobe = int(meta["nprobe"])
        return out, meta

    def save(self, path: Path, **sidecar: object) -> dict[str, Any]:
        """Atomically write the CPU index and its sidecar (extra keys such as generation pass through)."""
        meta = {"dim": self.dim, "metric": METRIC, "spec": self.spec, "requested_spec": self.requested_spec,
                "nprobe": self.nprobe, "count": len(self), "tombstones": self.tombstones, **sidecar}
        meta.setdefault("generation", 0)
        return files.write_index(self._index, Path(path), meta)

    # -- properties ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._index.ntotal) - self.tombstones

    @property
    def faiss_index(self) -> faiss.Index:
        """The underlying CPU index (for tools and benchmarks; mutate it only through this class)."""
        return self._index

    @property
    def is_trained(self) -> bool:
        return bool(self._index.is_trained)

    @property
    def nlist(self) -> int | None:
        return int(self._ivf.nlist) if self._ivf is not None else None

    @property
    def nprobe(self) -> int | None:
        return int(self._ivf.nprobe) if self._ivf is not None else None

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if self._ivf is None:
            raise ValueError(f"nprobe applies to IVF indexes only; this index is {self.spec!r}")
        if not 1 <= int(value) <= self._ivf.nlist:
            raise ValueError(f"nprobe must be in 1..{self._ivf.nlist} (nlist), got {value!r}")
        faiss.ParameterSpace().set_index_parameter(self._index, "nprobe", int(value))
        self._gpu = None

    @property
    def k_factor(self) -> int | None:
        """Refine specs: candidates re-scored per result (saved in the index file)."""
        return self._refined.k_factor if self._refined is not None else None

    @k_factor.setter
    def k_factor(self, value: int) -> None:
        if self._refined is None:
            raise ValueError(f"k_factor applies to ',Refine(...)' indexes only; this index is {self.spec!r}")
        self._refined.k_factor = value

    @property
    def ef_search(self) -> int | None:
        return int(self._hnsw.hnsw.efSearch) if self._hnsw is not None else None

    @ef_search.setter
    def ef_search(self, value: int) -> None:
        if self._hnsw is None or int(value) < 1:
            raise ValueError(f"ef_search must be >= 1 on an HNSW index, got {value!r} on {self.spec!r}")
        self._hnsw.hnsw.efSearch = int(value)

    @property
    def tombstones(self) -> int:
        """Entries removed from a graph index but still stored (skipped by searches)."""
        return self._tombstones

    @property
    def needs_rebuild(self) -> bool:
        """True when removed-but-present entries (HNSW tombstones) exceed 20% of the index."""
        return self.tombstones > TOMBSTONE_REBUILD_FRACTION * max(1, self._index.ntotal)

    @property
    def device(self) -> str:
        return "gpu" if self._gpu is not None else "cpu"

    def ids(self) -> np.ndarray:
        return self._ids_sorted().copy()

    def contains(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``ids`` are in the index (O(m log n))."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        stored = self._ids_sorted()
        pos = np.minimum(np.searchsorted(stored, ids), max(len(stored) - 1, 0))
        return (stored[pos] == ids) if len(stored) else np.zeros(len(ids), dtype=bool)

    def memory_bytes(self) -> int:
        """Estimate of resident bytes: codes, ids, id maps, centroids, graph links."""
        n = int(self._index.ntotal)
        if self._refined is not None:
            return self._refined.memory_bytes()
        if self._ivf is not None:
            ivf = self._ivf
            return n * (ivf.code_size + 8 + 48) + ivf.nlist * self.dim * 4
        inner = faiss.downcast_index(self._idmap.index)
        if self._hnsw is not None:
            storage = faiss.downcast_index(self._hnsw.storage)
            links = self._hnsw.hnsw.neighbors.size() * 4 + n * 13  # neighbours + levels + offsets
            return n * (storage.code_size + 8 + 48) + links
        code = inner.code_size if isinstance(inner, faiss.IndexFlatCodes) else self.dim * 4
        return n * (code + 8 + 48)

    # -- mutation ------------------------------------------------------------------------------------
    def train(self, vectors: np.ndarray) -> None:
        """Train an untrained index; with too few points for the spec, a smaller nlist/PQ is used."""
        x = as_matrix("vectors", vectors, self.dim)
        if self.is_trained:
            return
        if not len(x):
            raise ValueError("cannot train on 0 vectors")
        fitted = trainable_spec(self.requested_spec, len(x))
        if fitted != self.spec:
            log.warning("only %d training points for %r: using %r", len(x), self.requested_spec, fitted)
            self.spec = fitted
            self._set_index(_prepare(build_index(fitted, self.dim)))
        self._index.train(x)
        self._invalidate()

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids, x = new_entries(self, ids, vectors)
        if not len(ids):
            return
        if not self.is_trained:
            self.train(x)
        self._own_lists()
        if self._refined is not None:
            self._refined.add(ids, x)
        else:
            self._index.add_with_ids(x, ids)
        self._sorted_ids = np.union1d(self._sorted_ids, ids) if self._sorted_ids is not None else None
        self._gpu = None

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        ids = np.unique(as_ids(ids))
        ids = ids[self.contains(ids)]
        if not len(ids):
            return 0
        self._own_lists()
        if self._refined is not None:
            self._refined.remove(ids)
        elif self._ivf is not None:  # the hash-table direct map removes only through an IDSelectorArray
            self._index.remove_ids(faiss.IDSelectorArray(len(ids), faiss.swig_ptr(ids)))
        elif self._tombstoning:
            view = self._id_map_view()
            view[np.isin(view, ids)] = -1
            self._idmap.construct_rev_map()
            self._tombstones += len(ids)
        else:
            self._index.remove_ids(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids)))
        self._sorted_ids = np.setdiff1d(self._sorted_ids, ids, assume_unique=True)
        self._gpu = None
        return len(ids)

    def clear(self) -> None:
        """Remove everything but keep the training (centroids, codebooks)."""
        self._own_lists()
        self._index.reset()
        self._tombstones = 0
        self._invalidate()

    @property
    def mapped(self) -> bool:
        """True while the IVF lists (a refine index: its store) are read from the memory-mapped file."""
        if self._refined is not None:
            return self._refined.mapped
        return self._ivf is not None and isinstance(faiss.downcast_InvertedLists(self._ivf.invlists),
                                                    faiss.OnDiskInvertedLists)

    def _own_lists(self) -> None:
        """Copy memory-mapped IVF lists into memory before a change (FAISS cannot change mapped lists)."""
        if not self.mapped:
            return
        if self._refined is not None:
            self._refined.own()
            return
        ivf = self._ivf
        lists = faiss.ArrayInvertedLists(ivf.nlist, ivf.code_size)
        ivf.invlists.copy_subset_to(lists, 0, *_ALL_IDS)  # subset type 0: ids in [a1, a2), i.e. all
        lists.this.disown()  # the index owns it from here (replace_invlists frees the mapped lists)
        ivf.replace_invlists(lists, True)

    def _invalidate(self) -> None:
        self._sorted_ids = None
        self._gpu = None

    # -- search --------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> SearchResult:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k <= 0:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        q = as_matrix("queries", queries, self.dim)
        k = int(k)
        if allowed_ids is None:
            if len(self) == 0:
                return _empty(len(q), k)
            return self._finish(*self._search_all(q, k))
        allowed = np.unique(as_ids(allowed_ids))
        allowed = allowed[self.contains(allowed)]
        if not len(allowed) or not len(q):
            return _empty(len(q), k)
        if not self._flat_scan and len(allowed) <= max(EXACT_MAX, k):
            return self._finish(*exact_top_k(self._index, q, k, allowed))
        try:
            search = self._refined.search if self._refined is not None else self._index.search
            scores, labels = search(q, k, params=self._filter_params(allowed, k))
        except RuntimeError:  # no selector support (e.g. IndexPQ, IndexRefine): score exactly
            return self._finish(*exact_top_k(self._index, q, k, allowed))
        short = np.flatnonzero((labels >= 0).sum(axis=1) < min(k, len(allowed)))
        if len(short):  # a selective filter left some rows short: score those rows exactly
            scores[short], labels[short] = exact_top_k(self._index, q[short], k, allowed)
        return self._finish(scores, labels)

    def _search_all(self, q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self._refined is not None:  # on the CPU: FAISS has no GPU fast scan
            return self._refined.search(q, k)
        if self.tombstones:
            sel = faiss.IDSelectorRange(*_ALL_IDS)
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=self.ef_search) if self._hnsw \
                else faiss.SearchParameters(sel=sel)
            return self._index.search(q, k, params=params)
        return self._searcher().search(q, k)

    def _filter_params(self, allowed: np.ndarray, k: int) -> faiss.SearchParameters:
        sel = faiss.IDSelectorBatch(len(allowed), faiss.swig_ptr(allowed))
        boost = max(1.0, self._index.ntotal / len(allowed))
        if self._ivf is not None:
            nprobe = min(self._ivf.nlist, math.ceil(self._ivf.nprobe * boost))
            params = faiss.SearchParametersIVF(sel=sel, nprobe=nprobe)
        elif self._hnsw is not None:
            ef = min(MAX_EF_SEARCH, max(k, math.ceil(self.ef_search * boost)))
            params = faiss.SearchParametersHNSW(sel=sel, efSearch=ef)
        else:
            params = faiss.SearchParameters(sel=sel)
        params.keep_alive = (sel, allowed)  # the selector must outlive the search call
        return params

    @staticmethod
    def _finish(scores: np.ndarray, labels: np.ndarray) -> SearchResult:
        scores = np.asarray(scores, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        scores[labels < 0] = -np.inf
        return SearchResult(scores=scores, ids=labels)

    # -- helpers -------------------------------------------------------------------------------------
    def _searcher(self) -> faiss.Index:
        """The GPU copy when enabled and available (made lazily after each change), else the CPU index."""
        if not self.use_gpu or self._gpu_failed or not _num_gpus():
            return self._index
        with self._gpu_lock:
            return self._gpu_copy()

    def _gpu_copy(self) -> faiss.Index:
        if self._gpu is None:
            try:
                self._gpu_res = getattr(self, "_gpu_res", None) or faiss.StandardGpuResources()
                self._gpu = faiss.index_cpu_to_gpu(self._gpu_res, 0, self._index)
                if self._ivf is not None:
                    faiss.GpuParameterSpace().set_index_parameter(self._gpu, "nprobe", self.nprobe)
            except (RuntimeError, AttributeError) as exc:  # e.g. HNSW has no GPU form
                log.info("searching %s on the CPU: %s", self.spec, exc)
                self._gpu_failed, self._gpu = True, None
                return self._index
        return self._gpu

    def _id_map_view(self) -> np.ndarray:
        return faiss.rev_swig_ptr(self._idmap.id_map.data(), self._idmap.id_map.size())

    def _ids_sorted(self) -> np.ndarray:
        if self._sorted_ids is None:
            self._sorted_ids = np.sort(_stored_ids(self))
        return self._sorted_ids


def _stored_ids(index: FaissIndex) -> np.ndarray:
    if index._ivf is not None:
        invlists = index._ivf.invlists
        parts = [faiss.rev_swig_ptr(invlists.get_ids(i), invlists.list_size(i)).copy()
                 for i in range(index._ivf.nlist) if invlists.list_size(i)]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    ids = faiss.vector_to_array(index._idmap.id_map).astype(np.int64)
    return ids[ids >= 0]


def _prepare(index: faiss.Index) -> faiss.Index:
    """Give a fresh index its id handling and default search parameters."""
    ivf = extract_ivf(index)
    for part in (ivf, faiss.downcast_index(index)):
        if part is not None and hasattr(part, "do_polysemous_training"):
            part.do_polysemous_training = False  # the factory turns it on; it makes PQ training very slow
    if ivf is not None:
        if not is_refine(index):  # a refine index removes by scanning its lists (fast scan has no id map)
            ivf.set_direct_map_type(faiss.DirectMap.Hashtable)
        ivf.nprobe = default_nprobe(ivf.nlist)
        ivf.cp.max_points_per_centroid = 64  # train on <= 64 points per list: k-means stays fast on CPUs
        return index
    inner = faiss.downcast_index(index)
    if isinstance(inner, faiss.IndexHNSW):
        inner.hnsw.efSearch = DEFAULT_EF_SEARCH
    return faiss.IndexIDMap2(index)


def _num_gpus() -> int:
    try:
        return int(faiss.get_num_gpus())
    except AttributeError:
        return 0


def _empty(n: int, k: int) -> SearchResult:
    return SearchResult.empty(n, k)
