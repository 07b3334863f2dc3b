"""A ``VectorIndex`` on Milvus (pymilvus): the vectors of one space live in a Milvus collection.

The same client code talks to Milvus Lite (``milvus_uri`` is a local file such as ``./vectors.db``) and to a
Milvus server or cluster (``http://host:19530``). Ids are catalog ids (the collection's int64 primary key), so
the catalog stays the source of truth: the index set rebuilds or re-syncs a collection from the ``vectors``
table exactly as it does a FAISS file. The sidecar JSON beside where the FAISS file would be records the
collection, its spec and the catalog generation it reflects; the vectors themselves never touch the library
folder.

Spec mapping (FAISS factory strings, so ``index_spec`` means the same on both backends): ``Flat`` → FLAT,
``IVF{n},Flat``, ``IVF{n},SQfp16`` and ``IVF{n},PQ{m}x4fs,Refine(SQfp16)`` → IVF_FLAT, ``IVF{n},SQ8`` →
IVF_SQ8, ``IVF{n},PQ{m}`` → IVF_PQ, ``HNSW{M}`` → HNSW.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import IndexCorruptError, LibraryError
from . import files
from .base import SearchResult, VectorIndex, as_ids, as_matrix, check_search, new_entries

METRIC = "inner_product"
VECTOR_FIELD = "vector"
BATCH_ROWS = 4096  # rows per insert/query call: 4096 x 512 floats = 8 MB, under gRPC's 64 MB message cap
QUERY_WINDOW = 16_384  # Milvus's default cap on the rows one query or search returns (offset + limit)
FILTER_MAX_IDS = 16_384  # allowed sets up to this size are pushed down as `id in [...]`; larger ones over-fetch
# pymilvus pings every 10 s; gRPC servers by default allow one ping per 5 minutes on an idle channel and close
# the connection ("too many pings") after two more, which Milvus Lite's server does. Ping no more often.
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 300_000, "grpc.keepalive_permit_without_calls": False}
_SPECS = (
    (re.compile(r"^Flat$", re.I), lambda m: ("FLAT", {})),
    (re.compile(r"^IVF(\d+),Flat$", re.I), lambda m: ("IVF_FLAT", {"nlist": int(m[1])})),
    (re.compile(r"^IVF(\d+),SQfp16$", re.I), lambda m: ("IVF_FLAT", {"nlist": int(m[1])})),  # no fp16 IVF in Milvus
    # a re-ranked fast scan (IVF<n>,PQ<m>x4fs,Refine(SQfp16), what `auto` picks for large sets): exact lists
    (re.compile(r"^IVF(\d+),PQ\d+x4fsr?,Refine\((?:SQfp16|Flat)\)$", re.I),
     lambda m: ("IVF_FLAT", {"nlist": int(m[1])})),
    (re.compile(r"^IVF(\d+),SQ8$", re.I), lambda m: ("IVF_SQ8", {"nlist": int(m[1])})),
    (re.compile(r"^IVF(\d+),PQ(\d+)$", re.I), lambda m: ("IVF_PQ", {"nlist": int(m[1]), "m": int(m[2]), "nbits": 8})),
    (re.compile(r"^HNSW(\d+)$", re.I), lambda m: ("HNSW", {"M": int(m[1]), "efConstruction": 200})),
)


def milvus_index_params(spec: str) -> tuple[str, dict[str, int]]:
    """Milvus index type and build parameters for a FAISS factory string (ValueError naming the choices)."""
    for pattern, build in _SPECS:
        match = pattern.match(spec.strip())
        if match:
            return build(match)
    raise ValueError(f"index spec {spec!r} has no Milvus equivalent; use Flat, IVF<n>,Flat, IVF<n>,SQfp16, "
                     "IVF<n>,PQ<m>x4fs,Refine(SQfp16), IVF<n>,SQ8, IVF<n>,PQ<m> or HNSW<M> (or 'auto')")


def connect(uri: str) -> Any:
    """A pymilvus client for ``uri``: a local Milvus Lite file, or a Milvus server URL."""
    from ..extras import optional_import

    pymilvus = optional_import("pymilvus")
    if "://" not in uri:
        Path(uri).expanduser().parent.mkdir(parents=True, exist_ok=True)
        optional_import("milvus_lite")
    try:
        return pymilvus.MilvusClient(uri=uri, grpc_options=GRPC_OPTIONS)
    except Exception as exc:  # noqa: BLE001 - pymilvus raises its own tree; the user needs the uri and reason
        raise LibraryError(f"cannot connect to Milvus at {uri!r}: {exc}") from None


class MilvusIndex:
    """Inner-product search over one Milvus collection, keyed by int64 catalog ids."""

    metric = METRIC
    device = "milvus"
    tombstones = 0
    needs_rebuild = False

    def __init__(self, client: Any, collection: str, dim: int, spec: str, *, uri: str, nprobe: int | None = None,
                 ef_search: int | None = None) -> None:
        self.client, self.collection, self.uri = client, collection, uri
        self.dim, self.spec = int(dim), spec.strip()
        self.requested_spec = self.spec
        self.index_type, self.build_params = milvus_index_params(self.spec)
        self._nprobe = nprobe or (max(1, self.build_params["nlist"] // 64) if "nlist" in self.build_params else None)
        self._ef_search = ef_search or (128 if self.index_type == "HNSW" else None)
        self.on_save: Any = None  # set by MilvusBackend: drops superseded collections after a save

    # -- construction ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, client: Any, collection: str, dim: int, spec: str, *, uri: str) -> MilvusIndex:
        """A new, empty collection (an old one of the same name is dropped: the catalog refills it)."""
        if isinstance(dim, bool) or not isinstance(dim, int | np.integer) or dim < 1:
            raise ValueError(f"dim must be a positive integer, got {dim!r}")
        index = cls(client, collection, int(dim), spec, uri=uri)
        index._create_collection()
        return index

    @classmethod
    def load(cls, client: Any, path: Path, *, uri: str) -> tuple[MilvusIndex, dict[str, Any]]:
        """Open the collection a sidecar names; IndexCorruptError when it is gone or disagrees."""
        meta = files.read_sidecar(Path(path))
        collection = meta.get("collection")
        if meta.get("backend") != "milvus" or not collection:
            raise files.corrupt_error(Path(path), "the sidecar does not describe a Milvus collection")
        index = cls(client, collection, int(meta["dim"]), meta["spec"], uri=uri, nprobe=meta.get("nprobe"),
                    ef_search=meta.get("ef_search"))
        if not index._call("has_collection", collection):
            raise files.corrupt_error(Path(path), f"Milvus collection {collection!r} at {uri} is missing")
        index._call("load_collection", collection)  # a server restart leaves collections released
        if len(index) != meta["count"]:
            raise files.corrupt_error(Path(path), f"collection holds {len(index)} vectors, sidecar says "
                                                  f"{meta['count']}")
        return index, meta

    def save(self, path: Path, **sidecar: object) -> dict[str, Any]:
        """Flush the collection, then write the sidecar atomically (no index bytes live in the library)."""
        self._call("flush", self.collection)
        try:
            previous = files.read_sidecar(Path(path)).get("collection")
        except IndexCorruptError:
            previous = None
        meta = {"backend": "milvus", "uri": self.uri, "collection": self.collection, "dim": self.dim,
                "metric": METRIC, "spec": self.spec, "requested_spec": self.requested_spec,
                "nprobe": self._nprobe, "ef_search": self._ef_search, "count": len(self), "tombstones": 0,
                **sidecar}
        meta.setdefault("generation", 0)
        written = files.write_sidecar(Path(path), meta)
        if self.on_save is not None:
            self.on_save(previous)
        return written

    def _create_collection(self) -> None:
        from pymilvus import DataType

        if self._call("has_collection", self.collection):
            self._call("drop_collection", self.collection)
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=self.dim)
        params = self.client.prepare_index_params()
        params.add_index(field_name=VECTOR_FIELD, index_type=self.index_type, metric_type="IP",
                         params=self.build_params)
        self._call("create_collection", self.collection, schema=schema, index_params=params)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """A pymilvus client call; its failures become a LibraryError naming the server and the operation."""
        try:
            return getattr(self.client, method)(*args, **kwargs)
        except (ValueError, LibraryError):
            raise
        except Exception as exc:  # noqa: BLE001 - MilvusException, gRPC errors: the user needs where and why
            message = getattr(exc, "message", None) or str(exc)
            raise LibraryError(f"Milvus at {self.uri}: {method} on collection {self.collection!r} failed: "
                               f"{message}") from None

    # -- properties ----------------------------------------------------------------------------------
    def __len__(self) -> int:
        rows = self._call("query", self.collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"]) if rows else 0

    @property
    def is_trained(self) -> bool:
        return True  # Milvus trains IVF/PQ codebooks itself when it builds a segment's index

    @property
    def nlist(self) -> int | None:
        return self.build_params.get("nlist")

    @property
    def nprobe(self) -> int | None:
        return self._nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        if self.nlist is None or isinstance(value, bool) or int(value) < 1:
            raise ValueError(f"nprobe must be >= 1 on an IVF index, got {value!r} on {self.spec!r}")
        self._nprobe = min(int(value), self.nlist)

    @property
    def ef_search(self) -> int | None:
        return self._ef_search

    def memory_bytes(self) -> int:
        return 0  # held by the Milvus server, not by this process

    def ids(self) -> np.ndarray:
        """Every id, read in id windows of at most QUERY_WINDOW rows (Milvus caps a query's result there;
        its query iterator needs an RPC that Milvus Lite lacks)."""
        total, found, low, width = len(self), [], 0, QUERY_WINDOW
        while sum(map(len, found)) < total:
            rows = self._call("query", self.collection, filter=f"id >= {low} and id < {low + width}",
                              output_fields=["id"], limit=QUERY_WINDOW)
            if len(rows) >= QUERY_WINDOW and width > 1:
                width //= 2  # too dense: retry a narrower window
                continue
            found.append(np.fromiter((int(row["id"]) for row in rows), dtype=np.int64, count=len(rows)))
            low += width
            width = width * 2 if not rows else width  # sparse ids: widen over gaps
        return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def contains(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        present: set[int] = set()
        for start in range(0, len(ids), BATCH_ROWS):
            part = ids[start:start + BATCH_ROWS].tolist()
            rows = self._call("query", self.collection, filter=f"id in {part}", output_fields=["id"])
            present.update(int(row["id"]) for row in rows)
        return np.fromiter((int(i) in present for i in ids), dtype=bool, count=len(ids))

    # -- mutation ------------------------------------------------------------------------------------
    def train(self, vectors: np.ndarray) -> None:
        as_matrix("vectors", vectors, self.dim)

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        ids, x = new_entries(self, ids, vectors)
        if not len(ids):
            return
        for start in range(0, len(ids), BATCH_ROWS):
            rows = [{"id": int(i), VECTOR_FIELD: v} for i, v in zip(ids[start:start + BATCH_ROWS],
                                                                       x[start:start + BATCH_ROWS], strict=True)]
            self._call("insert", self.collection, rows)

    def remove(self, ids: Sequence[int] | np.ndarray) -> int:
        ids = np.unique(as_ids(ids))
        ids = ids[self.contains(ids)]
        for start in range(0, len(ids), BATCH_ROWS):
            self._call("delete", self.collection, ids=ids[start:start + BATCH_ROWS].tolist())
        return len(ids)

    def clear(self) -> None:
        self._create_collection()

    # -- search --------------------------------------------------------------------------------------
    def search(self, queries: np.ndarray, k: int, allowed_ids: np.ndarray | None = None) -> SearchResult:
        q = as_matrix("queries", check_search(queries, k), self.dim)
        if allowed_ids is None:
            return self._search(q, int(k), "")
        allowed = np.unique(as_ids(allowed_ids))
        if not len(allowed) or not len(q):
            return SearchResult.empty(len(q), int(k))
        if len(allowed) <= FILTER_MAX_IDS:  # exact among the allowed ids, as FAISS scores small allowed sets
            return self._search(q, int(k), f"id in {allowed.tolist()}", exhaustive=True)
        return self._over_fetch(q, int(k), allowed)

    def _search(self, q: np.ndarray, k: int, expression: str, *, exhaustive: bool = False) -> SearchResult:
        """``exhaustive``: probe every IVF list, so a filtered search misses no allowed id."""
        scores, labels = _empty_arrays(len(q), k)
        if not len(q):
            return SearchResult(scores, labels)
        params: dict[str, Any] = {"metric_type": "IP", "params": {}}
        if self._nprobe:
            params["params"]["nprobe"] = self.nlist if exhaustive else self._nprobe
        if self._ef_search:
            params["params"]["ef"] = max(self._ef_search, k)
        hits = self._call("search", self.collection, data=list(q), limit=k, anns_field=VECTOR_FIELD,
                                  search_params=params, filter=expression, output_fields=["id"])
        for row, found in enumerate(hits):
            for col, hit in enumerate(found[:k]):
                labels[row, col] = int(hit["id"])
                scores[row, col] = float(hit["distance"])
        return SearchResult(scores, labels)

    def _over_fetch(self, q: np.ndarray, k: int, allowed: np.ndarray) -> SearchResult:
        """Large allowed sets: ask for more than k and keep the allowed ones, widening until k are found."""
        total = len(self)
        fetch = min(max(4 * k, int(k * total / max(len(allowed), 1)) * 2), 16_384)
        while True:
            found = self._search(q, fetch, "")
            mask = np.isin(found.ids, allowed)
            if mask.sum(axis=1).min() >= k or fetch >= min(total, 16_384):
                break
            fetch = min(fetch * 4, 16_384)
        scores, labels = _empty_arrays(len(q), k)
        for row in range(len(q)):
            keep = np.flatnonzero(mask[row])[:k]
            labels[row, :len(keep)] = found.ids[row, keep]
            scores[row, :len(keep)] = found.scores[row, keep]
        return SearchResult(scores, labels)


class MilvusBackend:
    """``IndexBackend`` on Milvus: the index of space ``S`` of library ``L`` is collection ``mmrag_L_S_<n>``.

    Every create makes a new collection (a rebuild or an upgrade never empties the one readers search); a save
    drops the library's older collections of that space except the one the previous sidecar named, which
    readers opened before the save may still be searching.
    """

    name = "milvus"

    def __init__(self, uri: str, library_id: str) -> None:
        self.uri = uri
        self.library_id = library_id
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = connect(self.uri)
        return self._client

    def create(self, path: Path, dim: int, spec: str) -> VectorIndex:
        stem = collection_name(self.library_id, Path(path).stem)
        index = MilvusIndex.create(self.client, f"{stem}_{uuid.uuid4().hex[:12]}", dim, spec, uri=self.uri)
        index.on_save = lambda previous: self._prune(stem, keep={index.collection, previous})
        return index

    def load(self, path: Path) -> tuple[VectorIndex, dict[str, Any]]:
        index, meta = MilvusIndex.load(self.client, path, uri=self.uri)
        stem = collection_name(self.library_id, Path(path).stem)
        index.on_save = lambda previous: self._prune(stem, keep={index.collection, previous})
        return index, meta

    def _prune(self, stem: str, keep: set[str | None]) -> None:
        for name in self.client.list_collections():
            if name.startswith(f"{stem}_") and name not in keep:
                self._call("drop_collection", name)


def collection_name(library_id: str, space: str) -> str:
    """Milvus names allow letters, digits and underscores: one name stem per library and space."""
    return re.sub(r"[^A-Za-z0-9_]", "_", f"mmrag_{library_id}_{space}")[:200]


def _empty_arrays(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    empty = SearchResult.empty(n, k)
    return empty.scores, empty.ids


__all__ = ["FILTER_MAX_IDS", "MilvusBackend", "MilvusIndex", "collection_name", "connect", "milvus_index_params"]
