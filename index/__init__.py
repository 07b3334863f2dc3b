"""The index layer: the VectorIndex protocol, its FAISS implementation, index files and the per-library set.

Exports load lazily so that importing ``mmrag.index.base`` (the protocol) does not import FAISS.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "SearchResult": ".base", "VectorIndex": ".base", "FaissIndex": ".faiss_index", "IndexSet": ".index_set",
    "FORMAT_VERSION": ".files", "read_index": ".files", "read_sidecar": ".files", "write_index": ".files",
    "AUTO": ".spec", "choose_nlist": ".spec", "choose_spec": ".spec", "default_nprobe": ".spec",
    "validate_spec": ".spec",
}

if TYPE_CHECKING:
    from .base import SearchResult, VectorIndex
    from .faiss_index import FaissIndex
    from .files import FORMAT_VERSION, read_index, read_sidecar, write_index
    from .index_set import IndexSet
    from .spec import AUTO, choose_nlist, choose_spec, default_nprobe, validate_spec

__all__ = [
    "AUTO", "FORMAT_VERSION", "FaissIndex", "IndexSet", "SearchResult", "VectorIndex", "choose_nlist",
    "choose_spec", "default_nprobe", "read_index", "read_sidecar", "validate_spec", "write_index",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mmrag.index' has no attribute {name!r}")
    return getattr(import_module(module, __name__), name)
