"""IndexSet: one VectorIndex per vector space (FAISS by default, any ``IndexBackend``), loaded lazily and kept
in step with the catalog.

The catalog's ``vectors`` table is the truth. An index file records (sidecar) the vectors generation it
reflects, the largest ``vectors.id`` it has seen and a digest of the last TAIL_ROWS rows. When the catalog's
generation differs, the index is synced from the table:

* ids in the table but not in the index are added, ids in the index but not in the table are removed;
* a re-embedded item keeps its item id but gets a new vector row (ingest deletes, then inserts), so items
  whose row id is above the recorded maximum are re-loaded. Row ids are never reused (the table is
  AUTOINCREMENT on SQLite, a sequence on PostgreSQL), so that maximum is a sound mark;
* the tail digest tells an index that belongs to this catalog from one copied from another library.

A writer's own ``add`` calls are remembered until the next sync, so saving does not re-load them.
"""

from __future__ import annotations

import base64
import logging
import threading
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select

from ..catalog import SPACES, Catalog, Vector
from ..catalog.db import LIBRARY_ID_KEY
from ..catalog.vectors import count_vectors, iter_vectors, load_vectors, space_model, vector_ids
from ..errors import IndexCorruptError, LibraryError
from . import files
from .base import FaissBackend, IndexBackend, SearchResult, VectorIndex, check_search
from .spec import AUTO, choose_spec, ivf_nlist, trainable_spec, validate_spec

log = logging.getLogger(__name__)

TAIL_ROWS = 1024
TRAIN_MIN = 1 << 16  # PQ codebooks want 256 points per centroid
BATCH = 20_000


class _RWLock:
    """Many searches at once, or one mutation."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writer)
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: not self._writer and not self._readers)
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


@dataclass
class _Space:
    index: VectorIndex | None
    policy: str  # "auto" or the factory string asked for
    generation: int = -1  # catalog generation as of the last sync
    max_row: int = 0  # largest vectors.id seen at the last sync
    tail: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))  # row id, item id, crc
    pending: set[int] = field(default_factory=set)  # item ids added by this writer since the last sync
    dirty: bool = True


class IndexSet:
    """The indexes of one library (``<library>/index/<space>.faiss``)."""

    def __init__(self, catalog: Catalog, folder: Path, *, spec: str = AUTO, memory_budget_mb: int = 4096,
                 use_gpu: bool = True, writable: bool = True, backend: IndexBackend | None = None) -> None:
        if not isinstance(spec, str) or not spec.strip():
            raise ValueError(f"spec must be 'auto' or a FAISS factory string, got {spec!r}")
        self.catalog = catalog
        self.folder = Path(folder)
        self.spec = spec.strip()
        self.memory_budget_mb = memory_budget_mb
        self.use_gpu = use_gpu
        self.backend: IndexBackend = backend if backend is not None else FaissBackend(use_gpu)
        self.writable = writable
        self._spaces: dict[str, _Space] = {}
        self._lock = _RWLock()
        self._save_lock = threading.Lock()

    # -- access --------------------------------------------------------------------------------------
    def path(self, space: str) -> Path:
        if space not in SPACES:
            raise ValueError(f"unknown vector space {space!r}; valid: {', '.join(SPACES)}")
        return self.folder / f"{space}.faiss"

    def get(self, space: str) -> VectorIndex | None:
        """The space's index (None while the space has no vectors); loads or builds it on first use."""
        self.path(space)
        sp = self._spaces.get(space)
        if sp is None:
            with self._lock.write():
                sp = self._spaces.get(space) or self._open(space)
                self._spaces[space] = sp
        return sp.index

    def refresh(self, space: str | None = None) -> None:
        """Bring loaded indexes up to date with the catalog (cheap when its generation has not moved)."""
        for name in [space] if space else list(self._spaces):
            sp = self._spaces.get(name)
            if sp is not None and sp.generation != self.catalog.generation(name):
                with self._lock.write():
                    self._sync(name, sp)

    def search(self, space: str, queries: np.ndarray, k: int,
               allowed_ids: np.ndarray | None = None) -> SearchResult:
        index = self.get(space)
        if index is None:  # no vectors yet: validate the arguments, find nothing
            return SearchResult.empty(len(check_search(queries, k)), int(k))
        with self._lock.read():
            return index.search(queries, k, allowed_ids)

    # -- mutation ------------------------------------------------------------------------------------
    def add(self, space: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add or replace (same id, new vector) items; call after the catalog transaction commits.

        An id given twice keeps its last vector, as the catalog does.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        last = len(ids) - 1 - np.unique(ids[::-1], return_index=True)[1]
        if len(last) != len(ids):
            ids, vectors = ids[np.sort(last)], np.asarray(vectors)[np.sort(last)]
        self.get(space)
        with self._lock.write():
            sp = self._spaces[space]
            if sp.index is None:
                dim = int(np.shape(vectors)[-1])
                spec = choose_spec(len(ids), dim, self.memory_budget_mb) if sp.policy == AUTO else sp.policy
                sp.index = self.backend.create(self.path(space), dim, spec)
            sp.index.remove(ids)
            sp.index.add(ids, vectors)
            sp.pending.update(ids.tolist())
            sp.dirty = True

    def remove(self, space: str, ids: Sequence[int] | np.ndarray) -> int:
        self.get(space)
        with self._lock.write():
            sp = self._spaces[space]
            if sp.index is None:
                return 0
            sp.pending.difference_update(int(i) for i in np.asarray(ids).reshape(-1))
            removed = sp.index.remove(ids)
            sp.dirty = sp.dirty or bool(removed)
            return removed

    def rebuild(self, space: str, spec: str | None = None) -> VectorIndex | None:
        """Rebuild from the stored vectors (no re-embedding); ``spec`` may change the index type."""
        self.path(space)
        with self._lock.write():
            self._spaces[space] = self._build(space, (spec or self.spec).strip())
            return self._spaces[space].index

    def save(self, space: str | None = None) -> list[Path]:
        """Sync with the catalog, apply the auto policy, then write changed indexes atomically."""
        if not self.writable:
            raise LibraryError(f"index set {self.folder} is read-only; only the writer saves indexes")
        written = []
        with self._save_lock:
            for name in [space] if space else list(self._spaces):
                if self._save_one(name):
                    written.append(self.path(name))
        return written

    def _save_one(self, space: str) -> bool:
        with self._lock.write():
            sp = self._spaces.get(space)
            if sp is None or sp.index is None:
                return False
            self._sync(space, sp)
            sp = self._upgrade(space, sp)
            path = self.path(space)
            if not sp.dirty and path.exists():
                return False
            meta = {"generation": sp.generation, "policy": sp.policy, "model": self._model(space),
                    "max_row": sp.max_row, "tail": _encode(sp.tail), "library_id": self.catalog.library_id()}
            sp.dirty = False
        with self._lock.read():  # searches go on while the file is written; mutations wait
            sp.index.save(path, **meta)
        return True

    # -- status --------------------------------------------------------------------------------------
    def status(self) -> dict[str, dict[str, Any]]:
        """Per space: spec, count, nprobe, device, file size, memory estimate, generations."""
        out = {}
        for space in SPACES:
            path = self.path(space)
            sp = self._spaces.get(space)
            info: dict[str, Any] = {"file": str(path), "file_bytes": path.stat().st_size if path.exists() else None,
                                    "catalog_generation": self.catalog.generation(space), "loaded": sp is not None}
            if sp is not None and sp.index is not None:
                ix = sp.index
                info |= {"spec": ix.spec, "policy": sp.policy, "count": len(ix), "nprobe": ix.nprobe,
                         "ef_search": ix.ef_search, "device": ix.device, "memory_bytes": ix.memory_bytes(),
                         "generation": sp.generation, "needs_rebuild": ix.needs_rebuild}
            elif sp is None and path.exists():
                try:
                    meta = files.read_sidecar(path)
                    info |= {k: meta.get(k) for k in ("spec", "policy", "count", "nprobe", "generation")}
                except IndexCorruptError as exc:
                    info["error"] = str(exc)
            out[space] = info
        return out

    # -- internals -----------------------------------------------------------------------------------
    def _open(self, space: str) -> _Space:
        path = self.path(space)
        if not path.exists() and not files.sidecar_path(path).exists():
            return self._build(space, self.spec)
        try:
            return self._open_file(space, path)
        except IndexCorruptError as exc:
            return self._build_instead(space, exc)

    # -- reliability: a damaged, foreign or half-replaced index never takes searches down ---------------
    def _build_instead(self, space: str, exc: IndexCorruptError) -> _Space:
        """Build the space's index in memory from the catalog's vectors (the truth) and say so once; the
        next writer's save replaces the damaged file (the built space is dirty)."""
        log.warning("%s -- searching an index built in memory from the catalog's vectors instead; the next "
                    "`mmrag ingest` (or `mmrag rebuild`) saves a repaired file", exc)
        sp = self._build(space, self.spec)
        sp.dirty = True
        return sp

    def _check_binding(self, space: str, path: Path, sp: _Space) -> None:
        """At an equal generation the index must hold this catalog's newest vector rows (recorded tail):
        otherwise it belongs to another library or to a catalog since rolled back."""
        if sp.generation != self.catalog.generation(space) or not len(sp.tail):
            return
        _max_row, tail = _row_marks(self.catalog, space)
        if tail.shape != sp.tail.shape or not np.array_equal(tail, sp.tail):
            raise files.corrupt_error(path, "its newest vectors are not this catalog's (another library's "
                                            "index, or a catalog restored or rolled back since)")
    # -- end reliability ----------------------------------------------------------------------------------

    def _open_file(self, space: str, path: Path) -> _Space:
        index, meta = self.backend.load(path)
        files.check_library(path, meta, self.catalog.get_meta(LIBRARY_ID_KEY))
        model = self._model(space)
        if meta.get("model") is not None and model is not None and meta["model"] != model:
            raise IndexCorruptError(f"index file {path} was built from model {meta.get('model')!r} but the "
                                    f"catalog's {space} vectors come from {model!r}; run `mmrag rebuild`")
        dim = _table_dim(self.catalog, space)
        if dim is not None and dim != index.dim:
            raise IndexCorruptError(f"index file {path} has dim {index.dim} but the catalog's {space} vectors "
                                    f"have dim {dim}; run `mmrag rebuild`")
        sp = _Space(index, meta.get("policy", AUTO), int(meta["generation"]), int(meta.get("max_row", 0)),
                    _decode(meta.get("tail")), dirty=False)
        self._check_binding(space, path, sp)
        sp.dirty = meta.get("library_id") is None  # a writer saves it again, bound to this library
        self._sync(space, sp)
        return sp

    def _build(self, space: str, spec: str) -> _Space:
        generation = self.catalog.generation(space)
        max_row, tail = _row_marks(self.catalog, space)
        n, dim = count_vectors(self.catalog, space), _table_dim(self.catalog, space)
        sp = _Space(None, spec, generation, max_row, tail)
        if not n or dim is None:
            return sp
        chosen = choose_spec(n, dim, self.memory_budget_mb) if spec == AUTO else validate_spec(spec, dim)
        sp.index = self.backend.create(self.path(space), dim, chosen)
        self._fill(space, sp.index, n)
        log.info("built %s index %s over %d vectors", space, sp.index.spec, len(sp.index))
        return sp

    def _fill(self, space: str, index: VectorIndex, n: int) -> None:
        """Train (on a seeded uniform sample) if needed, then add every stored vector of the space."""
        if not index.is_trained:
            size = min(n, max(64 * (ivf_nlist(index.requested_spec) or 1), TRAIN_MIN))
            picks = np.sort(np.random.default_rng(0).choice(n, size, replace=False))
            sample, seen = [], 0
            for _ids, vecs in iter_vectors(self.catalog, space, BATCH):
                lo, hi = np.searchsorted(picks, [seen, seen + len(vecs)])
                sample.append(vecs[picks[lo:hi] - seen])
                seen += len(vecs)
            index.train(np.vstack(sample))
        for ids, vecs in iter_vectors(self.catalog, space, BATCH):
            index.add(ids, vecs)

    def _sync(self, space: str, sp: _Space) -> None:
        """Apply catalog changes made since ``sp.generation`` (caller holds the write lock)."""
        generation = self.catalog.generation(space)
        if generation == sp.generation:
            return
        old_max = sp.max_row
        sp.max_row, sp.tail = _row_marks(self.catalog, space)  # read before the table: later rows are re-seen
        if sp.index is None:
            built = self._build(space, sp.policy)
            sp.index, sp.generation, sp.max_row, sp.tail = built.index, built.generation, built.max_row, built.tail
            sp.dirty = True
            return
        stored = vector_ids(self.catalog, space)
        changed = self._changed_items(space, old_max)
        present = sp.index.ids()
        reload = np.setdiff1d(changed, np.fromiter(sp.pending, np.int64, len(sp.pending)))
        sp.index.remove(np.union1d(np.setdiff1d(present, stored), reload))
        self._add_from_table(space, sp.index, np.union1d(np.setdiff1d(stored, present), reload))
        sp.generation, sp.dirty = generation, True
        sp.pending.clear()

    def _add_from_table(self, space: str, index: VectorIndex, ids: np.ndarray) -> None:
        for start in range(0, len(ids), BATCH):
            found, vecs = load_vectors(self.catalog, space, ids[start:start + BATCH])
            if len(found):
                index.remove(found)  # loaded twice if the table changed meanwhile
                index.add(found, vecs)

    def _changed_items(self, space: str, old_max: int) -> np.ndarray:
        """Item ids whose vector row is newer than the last sync (re-embedded or new items)."""
        with self.catalog.session() as s:
            items = set(s.execute(select(Vector.item_id).where(Vector.space == space, Vector.id > old_max))
                        .scalars())
        return np.fromiter(items, np.int64, len(items))

    def _upgrade(self, space: str, sp: _Space) -> _Space:
        """Auto policy: Flat past the threshold becomes IVF, an IVF 4x too coarse is re-trained, and so on."""
        ix = sp.index
        assert ix is not None
        if sp.policy == AUTO:
            want = choose_spec(len(ix), ix.dim, self.memory_budget_mb)
            grown = (ivf_nlist(want) or 0) >= 4 * (ivf_nlist(ix.spec) or 1)
            stale = grown or (want != "Flat" and _family(want) != _family(ix.spec))  # never back to Flat
        else:
            want = sp.policy
            stale = ix.spec != want and trainable_spec(want, len(ix)) == want
        if stale or ix.needs_rebuild:
            # a warning, so the CLI shows it: at 1 M vectors this takes minutes, once, at the end of a write
            log.warning("%s index: rebuilding %s as %s over %d vectors (once)", space, ix.spec, want, len(ix))
            built = self._build(space, sp.policy)
            built.dirty = True
            self._spaces[space] = built
            return built
        return sp

    def _model(self, space: str) -> str | None:
        return space_model(self.catalog, space)


def _family(spec: str) -> tuple[str, str]:
    kind = "IVF" if ivf_nlist(spec) else spec.split(",")[0].rstrip("0123456789")
    return kind, spec.split(",")[-1]


def _table_dim(catalog: Catalog, space: str) -> int | None:
    with catalog.session() as s:
        return s.execute(select(Vector.dim).where(Vector.space == space).limit(1)).scalar_one_or_none()


def _row_marks(catalog: Catalog, space: str) -> tuple[int, np.ndarray]:
    """Largest vector row id of the space and (row id, item id, crc) of its last TAIL_ROWS rows. The row ids
    come first (no vector read), then only those rows' vectors."""
    with catalog.session() as s:
        ids = _tail_ids(s, space)
        rows = s.execute(select(Vector.id, Vector.item_id, Vector.data).where(Vector.id.in_(ids))
                         .order_by(Vector.id.desc())).all() if ids else []
    tail = np.array([(r.id, r.item_id, zlib.crc32(r.data)) for r in rows], dtype=np.int64).reshape(-1, 3)
    return (int(tail[0, 0]) if len(tail) else 0), tail


def _tail_ids(s: Any, space: str) -> Sequence[int]:
    """The space's newest row ids: the table's newest rows walked backwards (ms; the space index reads and
    sorts every id of the space: 3.7 s at 1 M), that index only when the space is sparse among them."""
    top = s.execute(select(func.max(Vector.id))).scalar() or 0
    newest = select(Vector.id).order_by(Vector.id.desc()).limit(TAIL_ROWS)
    for span in (4 * TAIL_ROWS, 64 * TAIL_ROWS):  # ``space || ''`` keeps the planner off the space index
        ids = s.execute(newest.where(Vector.space.concat("") == space, Vector.id > top - span)).scalars().all()
        if len(ids) == TAIL_ROWS or top <= span:
            return ids
    return s.execute(newest.where(Vector.space == space)).scalars().all()


def _encode(tail: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(tail, dtype="<i8").tobytes()).decode()


def _decode(value: object) -> np.ndarray:
    if not isinstance(value, str):
        return np.zeros((0, 3), np.int64)
    return np.frombuffer(base64.b64decode(value), dtype="<i8").reshape(-1, 3).astype(np.int64)
