"""The components of one open library: settings, catalog, vector indexes, models, and the caches they share.

Every layer below the ``Library`` façade (ingest, retrieval, generation, status, doctor) receives this one
object instead of the façade. Heavy parts load on first use (an unchanged folder loads no model); tests and
embedding applications inject them through the constructor:

    components = Components(settings, clip=my_clip, text_embedder=my_text_model)
    lib = Library(components=components)            # or Library(path, clip=my_clip)

Nothing here is process-wide: two libraries in one process share no model, index, BM25 store or generator.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from .catalog import IMAGE_SPACE, TEXT_SPACE, Catalog
from .catalog.vectors import space_model
from .errors import ModelMismatchError
from .settings import ENV_PREFIX, Settings

if TYPE_CHECKING:
    from .generation.base import Generator
    from .generation.loader import ModelLoader
    from .index.bm25 import Bm25Store
    from .index.index_set import IndexSet
    from .models.base import ImageTextEmbedder, TextEmbedder
    from .retrieval.ocr_dense import OcrVectorStore

T = TypeVar("T")


class Components:
    """What the lower layers of one library need, built lazily and kept for the library's lifetime."""

    def __init__(
        self,
        settings: Settings,
        *,
        catalog: Catalog | None = None,
        clip: ImageTextEmbedder | None = None,
        text_embedder: TextEmbedder | None = None,
        indexes: IndexSet | None = None,
        check_models: bool = True,
        follow_recorded_clip: bool = False,
    ) -> None:
        """``check_models=False`` opens a library whose recorded models differ from the configured ones (for
        ``mmrag doctor``, which reports that); otherwise such a library raises ModelMismatchError.
        ``follow_recorded_clip``: the CLIP model was not named (keyword or MMRAG_* variable), so the one the
        library's image vectors were made by wins over the default and over mmrag.toml."""
        self.path: Path = settings.library
        self.path.mkdir(parents=True, exist_ok=True)
        self.catalog = catalog if catalog is not None else Catalog(settings.resolved_database_url)
        follow = follow_recorded_clip and clip is None
        self.settings = with_recorded_clip(settings, self.catalog) if follow else settings
        self._lock = threading.RLock()
        self._clip = clip
        self._text_embedder = text_embedder
        self._indexes = indexes
        self._bm25: Bm25Store | None = None
        self._ocr_text_index: Bm25Store | None = None
        self._ocr_text_vectors: OcrVectorStore | None = None
        self.generators = GeneratorCache(settings.cache_dir)
        self.answer_model = KeptModel()  # the llama-cpp answerer's GGUF model, loaded on its first question
        self.check_models = check_models
        self.check_space_model(IMAGE_SPACE, clip.fingerprint if clip is not None else self.configured_clip())
        if text_embedder is not None:
            self.check_space_model(TEXT_SPACE, text_embedder.fingerprint)

    def __repr__(self) -> str:
        return f"Components({str(self.path)!r})"

    # -- lazily built parts -------------------------------------------------------------------------------

    @property
    def clip(self) -> ImageTextEmbedder:
        """The image/text (CLIP) embedder named by the settings, loaded on first use."""
        if self._clip is None:
            from .models.registry import load_image_text_embedder

            self._clip = self._once("_clip", lambda: load_image_text_embedder(self.settings))
        return self._clip

    @property
    def text_embedder(self) -> TextEmbedder:
        """The passage embedder (sentence-transformers), loaded on first use and checked against the library."""
        if self._text_embedder is None:
            from .models.registry import load_text_embedder

            def load() -> TextEmbedder:
                embedder = load_text_embedder(self.settings)
                self.check_space_model(TEXT_SPACE, embedder.fingerprint)
                return embedder

            self._text_embedder = self._once("_text_embedder", load)
        return self._text_embedder

    @property
    def indexes(self) -> IndexSet:
        """The library's vector indexes (read-only until a writer holds the library's lock)."""
        if self._indexes is None:
            from .index.backends import make_backend
            from .index.index_set import IndexSet

            self._indexes = self._once("_indexes", lambda: IndexSet(
                self.catalog, self.path / "index", spec=self.settings.index_spec,
                memory_budget_mb=self.settings.index_memory_budget_mb, use_gpu=self.settings.use_gpu_index,
                writable=False, backend=make_backend(self.settings, self.catalog),
            ))
        return self._indexes

    @property
    def bm25(self) -> Bm25Store:
        """The BM25 index of the document passages (rebuilt from the catalog when chunks changed)."""
        if self._bm25 is None:
            from .index.bm25 import FOLDER, Bm25Store

            self._bm25 = self._once("_bm25", lambda: Bm25Store(self.catalog, self.path / FOLDER))
        return self._bm25

    @property
    def ocr_text_index(self) -> Bm25Store:
        """The BM25 index of the text OCR read in images (rebuilt from the catalog when that text changed)."""
        if self._ocr_text_index is None:
            from .retrieval.ocr_search import OCR_FOLDER, ocr_text_index

            self._ocr_text_index = self._once(
                "_ocr_text_index", lambda: ocr_text_index(self.catalog, self.path / OCR_FOLDER))
        return self._ocr_text_index

    @property
    def ocr_text_vectors(self) -> OcrVectorStore:
        """The text-model vectors of the OCR text of images, in memory (reloaded when they changed)."""
        if self._ocr_text_vectors is None:
            from .retrieval.ocr_dense import OcrVectorStore

            self._ocr_text_vectors = self._once("_ocr_text_vectors", lambda: OcrVectorStore(self.catalog))
        return self._ocr_text_vectors

    def _once(self, slot: str, build: Callable[[], T]) -> T:
        with self._lock:
            value = getattr(self, slot)
            return value if value is not None else build()

    # -- the one model check --------------------------------------------------------------------------------

    def check_space_model(self, space: str, fingerprint: str) -> None:
        """Raise ModelMismatchError when the library's ``space`` vectors come from another model."""
        recorded = space_model(self.catalog, space) if self.check_models else None
        if recorded and recorded != fingerprint:
            raise ModelMismatchError(
                f"library {str(self.path)!r} holds {space} vectors made by {recorded!r}, but the configured "
                f"model is {fingerprint!r}. Leave out {MODEL_SOURCES[space]} (a library uses the model it was "
                f"made with; `mmrag doctor` shows both), or ingest into a new library to use the new model"
            )

    def configured_clip(self) -> str:
        """The fingerprint of the configured CLIP model, without loading it."""
        from .models.clip import clip_fingerprint

        return clip_fingerprint(self.settings.clip_model, self.settings.clip_pretrained)

    def close(self) -> None:
        self.generators.release()
        self.answer_model.release()
        self.catalog.dispose()


MODEL_SETTINGS = ("clip_model", "clip_pretrained")
MODEL_SOURCES = {IMAGE_SPACE: "--clip-model/--clip-pretrained and MMRAG_CLIP_MODEL/MMRAG_CLIP_PRETRAINED",
                 TEXT_SPACE: "MMRAG_RAG__TEXT_MODEL and rag.text_model in mmrag.toml"}


def models_pinned(overrides: Mapping[str, Any]) -> bool:
    """Whether the CLIP model was named by a keyword (a CLI flag) or an MMRAG_* variable."""
    return any(key in overrides or f"{ENV_PREFIX}{key.upper()}" in os.environ for key in MODEL_SETTINGS)


def with_recorded_clip(settings: Settings, catalog: Catalog) -> Settings:
    """``settings`` with the CLIP model the library's image vectors were made by (recorded in the catalog with
    its first vectors), when it differs from the configured one and its settings can be told."""
    from .models.clip import clip_fingerprint, clip_settings_of

    recorded = space_model(catalog, IMAGE_SPACE)
    if not recorded or recorded == clip_fingerprint(settings.clip_model, settings.clip_pretrained):
        return settings
    known = clip_settings_of(recorded)
    return settings.override(clip_model=known[0], clip_pretrained=known[1]) if known else settings


class KeptModel:
    """One loaded model of a library (e.g. a local LLM), kept between calls while its key stays the same;
    a new key releases the old model first so that two never sit in memory together."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._model: Any = None

    def holds(self, key: tuple[Any, ...]) -> bool:
        with self._lock:
            return self._model is not None and self._key == key

    def get(self, key: tuple[Any, ...], load: Callable[[], T]) -> T:
        with self._lock:
            if self._model is None or self._key != key:
                self._model, self._key = None, None  # the old model is freed before the new one loads
                self._model, self._key = load(), key
            return self._model  # type: ignore[no-any-return]

    def release(self) -> bool:
        """Forget the model so it can be freed; whether there was one."""
        with self._lock:
            had = self._model is not None
            self._model, self._key = None, None
            return had


class GeneratorCache:
    """The one loaded image generator of a library, kept between calls while its models stay the same, and
    the library's model loader (tiny-test models under ``cache_dir``; counts of what it loaded)."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._kept = KeptModel()
        self._loader: ModelLoader | None = None

    @property
    def loader(self) -> ModelLoader:
        if self._loader is None:
            from .generation.loader import ModelLoader

            self._loader = ModelLoader(self.cache_dir)
        return self._loader

    def get(self, key: tuple[Any, ...], load: Callable[[], Generator]) -> tuple[Generator, bool]:
        """The cached generator for ``key`` (and True), or a freshly loaded one (and False)."""
        if self._kept.holds(key):
            return self._kept.get(key, load), True
        self.release()  # the GPU memory of the old pipeline is handed back before the new one loads
        return self._kept.get(key, load), False

    def release(self) -> None:
        """Forget the generator so its models can be freed."""
        if self._kept.release():
            _empty_cuda_cache()


def _empty_cuda_cache() -> None:
    import sys

    torch = sys.modules.get("torch")  # only when torch is already loaded: never import it here
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()
