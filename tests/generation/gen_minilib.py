"""MiniLibrary: the parts of ``mmrag.library.Library`` generation needs, on a real Catalog and a real FAISS
index, used while the library's index layer is not importable. It satisfies ``generation.base.LibraryLike``."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mmrag.catalog.db import Catalog
from mmrag.catalog.models import IMAGE, IMAGE_SPACE, OK, Asset
from mmrag.catalog.vectors import put_vectors
from mmrag.index.faiss_index import FaissIndex
from mmrag.retrieval.filters import Filters
from mmrag.retrieval.hits import Hit
from mmrag.retrieval.search import search_space
from mmrag.settings import Settings


def library_available() -> bool:
    """Whether mmrag.library.Library can run (its index layer is importable)."""
    return importlib.util.find_spec("mmrag.index.index_set") is not None


class MiniIndexSet:
    def __init__(self, dim: int) -> None:
        self.image = FaissIndex.create(dim, "Flat", use_gpu=False)

    def add(self, space: str, ids: Any, vectors: np.ndarray) -> None:
        assert space == IMAGE_SPACE, space
        self.image.add(np.asarray(ids, dtype=np.int64), np.asarray(vectors, dtype=np.float32))

    def get(self, space: str) -> FaissIndex:
        assert space == IMAGE_SPACE, space
        return self.image


class MiniLibrary:
    def __init__(self, root: Path, clip: Any) -> None:
        self.settings = Settings(library=root, clip_model="tiny-test", device="cpu")
        self.settings.library.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.settings.resolved_database_url)
        self.clip = clip
        self.indexes = MiniIndexSet(clip.dim)

    def add_images(self, paths: list[Path]) -> list[int]:
        from mmrag.generation.store import file_facts

        images = [Image.open(p).convert("RGB") for p in paths]
        vectors = self.clip.embed_images(images)
        with self.catalog.session() as session:
            assets = [Asset(kind=IMAGE, status=OK, format="JPEG", **file_facts(Path(p).resolve())) for p in paths]
            session.add_all(assets)
            session.flush()
            ids = [a.id for a in assets]
            put_vectors(session, self.catalog, IMAGE_SPACE, ids, vectors, model=self.clip.fingerprint)
        self.indexes.add(IMAGE_SPACE, ids, vectors)
        return ids

    def get_asset(self, asset_id: int) -> Asset:
        with self.catalog.session() as session:
            asset = session.get(Asset, int(asset_id))
            if asset is None:
                raise ValueError(f"no library item with id {asset_id}")
            return asset

    def search_text(self, query: str, k: int = 10) -> list[Hit]:
        vector = self.clip.embed_texts([query])[0]
        return search_space(self.catalog, self.indexes.image, vector, k, Filters.parse(None))

    def search_image(self, image: Any, k: int = 10) -> list[Hit]:
        vector = self.clip.embed_images([image])[0]
        return search_space(self.catalog, self.indexes.image, vector, k, Filters.parse(None))

    def generate(self, prompt: str, **options: Any) -> Any:
        from mmrag.generation.service import generate

        return generate(self, prompt, **options)

    def close(self) -> None:
        self.catalog.dispose()
