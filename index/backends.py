"""The vector backends users pick by name (setting ``index_backend``): FAISS files or Milvus collections."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .base import FaissBackend, IndexBackend

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..settings import Settings

MILVUS_LITE_FILE = "milvus.db"  # default milvus_uri: a Milvus Lite file in the library's index folder


def _faiss(settings: Settings, catalog: Catalog) -> IndexBackend:
    return FaissBackend(settings.use_gpu_index)


def _milvus(settings: Settings, catalog: Catalog) -> IndexBackend:
    from .milvus_index import MilvusBackend

    uri = settings.milvus_uri or str(settings.library / "index" / MILVUS_LITE_FILE)
    return MilvusBackend(uri, catalog.library_id())


BACKENDS: dict[str, Callable[[Settings, Catalog], IndexBackend]] = {"faiss": _faiss, "milvus": _milvus}


def make_backend(settings: Settings, catalog: Catalog) -> IndexBackend:
    """The backend named by ``settings.index_backend`` (ValueError listing the choices)."""
    try:
        factory = BACKENDS[settings.index_backend]
    except KeyError:
        raise ValueError(f"unknown index_backend {settings.index_backend!r}; valid: {sorted(BACKENDS)}") from None
    return factory(settings, catalog)
