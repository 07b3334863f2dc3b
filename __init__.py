"""mmrag: semantic search, RAG and retrieval-guided generation over multimodal asset libraries.

    from mmrag import Library
    lib = Library("~/my-library")
    lib.ingest(["~/Pictures"])
    hits = lib.search_text("a cat on a sofa", k=10)
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Library": ".library",
    "IngestReport": ".ingest.report",
    "Settings": ".settings",
    "Hit": ".retrieval.hits",
    "DuplicateGroup": ".retrieval.hits",
    "Answer": ".retrieval.answer",
    "Citation": ".retrieval.answer",
    "MmragError": ".errors",
    "LibraryError": ".errors",
    "ModelNotFoundError": ".errors",
    "InputError": ".errors",
}

if TYPE_CHECKING:
    from .errors import InputError, LibraryError, MmragError, ModelNotFoundError
    from .ingest.report import IngestReport
    from .library import Library
    from .retrieval.answer import Answer, Citation
    from .retrieval.hits import DuplicateGroup, Hit
    from .settings import Settings

__all__ = [
    "Answer", "Citation", "DuplicateGroup", "Hit", "IngestReport", "InputError", "Library", "LibraryError",
    "MmragError", "ModelNotFoundError", "Settings", "__version__",
]


def __getattr__(name: str) -> Any:
    """Import lazily so ``import mmrag`` (and the CLI) start without torch."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mmrag' has no attribute {name!r}")
    return getattr(import_module(module, __name__), name)
