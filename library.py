"""The Python API: one object per library folder.

    lib = Library("~/my-library")                 # or Library(settings), or Library(clip_model="tiny-test")
    lib.ingest(["~/Pictures"])
    lib.search_text("a cat", k=10, filters={"folder": "2024/*"})
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from .catalog import IMAGE_SPACE, SPACES, TEXT_SPACE, Asset, Catalog, Tag
from .catalog.vectors import space_model
from .errors import IndexCorruptError, LibraryLockedError, ModelMismatchError
from .ingest.report import IngestReport
from .retrieval import search as vector_search
from .retrieval.filters import Filters
from .retrieval.hits import DuplicateGroup, Hit
from .settings import SETTINGS_FILE, Settings

if TYPE_CHECKING:
    from .index.index_set import IndexSet
    from .models.base import ImageTextEmbedder, TextEmbedder
    from .ingest.pipeline import ProgressCallback

log = logging.getLogger(__name__)

LOCK_FILE = ".write.lock"
# Query text beyond this is dropped before embedding: CLIP reads 77 tokens, and tokenizing megabytes of
# text that the model ignores took seconds per MB.
MAX_QUERY_CHARS = 4096
KIND_SPACES = {"image": IMAGE_SPACE, "generated": IMAGE_SPACE, "text": TEXT_SPACE, "document": TEXT_SPACE}


class Library:
    """A library folder: catalog, vector indexes, models. Models load on first use and are kept."""

    def __init__(self, library: str | os.PathLike[str] | Settings | None = None, **overrides: Any) -> None:
        if isinstance(library, Settings):
            self.settings = library.model_copy(update=overrides) if overrides else library
        else:
            if library is not None:
                overrides["library"] = library
            self.settings = Settings(**overrides)
        self.path: Path = self.settings.library
        self.path.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(self.settings.resolved_database_url)
        self._lock = threading.RLock()
        self._check_recorded_models()

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r})"

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.catalog.dispose()

    # -- components (lazy) ----------------------------------------------------------------------------------

    @cached_property
    def clip(self) -> ImageTextEmbedder:
        from .models.registry import load_image_text_embedder

        return load_image_text_embedder(self.settings)

    @cached_property
    def text_embedder(self) -> TextEmbedder:
        from .models.registry import load_text_embedder

        embedder = load_text_embedder(self.settings)
        self._check_space_model(TEXT_SPACE, embedder.fingerprint)
        return embedder

    @cached_property
    def indexes(self) -> IndexSet:
        from .index.index_set import IndexSet

        return IndexSet(
            self.catalog,
            self.path / "index",
            spec=self.settings.index_spec,
            memory_budget_mb=self.settings.index_memory_budget_mb,
            use_gpu=self.settings.use_gpu_index,
            writable=False,
        )

    def _check_recorded_models(self) -> None:
        from .models.clip import clip_fingerprint

        self._check_space_model(IMAGE_SPACE, clip_fingerprint(self.settings.clip_model, self.settings.clip_pretrained))

    def _check_space_model(self, space: str, fingerprint: str) -> None:
        recorded = space_model(self.catalog, space)
        if recorded and recorded != fingerprint:
            raise ModelMismatchError(
                f"library {str(self.path)!r} holds {space} vectors made by {recorded!r}, but the configured "
                f"model is {fingerprint!r}. Open it with the same model (its mmrag.toml records it; "
                f"`mmrag doctor` shows both), or ingest into a new library to use the new model"
            )

    # -- writing --------------------------------------------------------------------------------------------

    @contextmanager
    def writing(self):  # type: ignore[no-untyped-def]
        """Hold the library's write lock (one writer per library; readers are never blocked)."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.path / LOCK_FILE))
        try:
            lock.acquire(timeout=float(os.environ.get("MMRAG_LOCK_TIMEOUT", "0")))
        except Timeout:
            raise LibraryLockedError(
                f"another process is writing to library {str(self.path)!r} (lock {self.path / LOCK_FILE}); "
                "wait for it to finish"
            ) from None
        try:
            with self._lock:
                self.indexes.writable = True
                yield self
        finally:
            self.indexes.writable = False
            lock.release()

    def ingest(self, paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], *,
               progress: ProgressCallback | None = None) -> IngestReport:
        """Add new and changed files under ``paths``, drop deleted ones; unchanged files cost no model work."""
        from .ingest.pipeline import IngestContext, Ingestor

        roots = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        if not roots:
            raise ValueError("ingest needs at least one folder or file")
        with self.writing():
            if not (self.path / SETTINGS_FILE).exists():
                self.settings.save()  # later opens use the same models without flags
            ctx = IngestContext(self.settings, self.catalog, lambda: self.clip, lambda: self.text_embedder,
                                SelfHealingIndexes(self.indexes))
            return Ingestor(ctx, progress).run(roots)

    def remove(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Drop assets (files or whole folders) from the library; the files on disk are not touched."""
        from .ingest.jobs import posix_abs, under_roots
        from .ingest.writer import IndexChanges, remove_assets

        roots = [posix_abs(p) for p in paths]
        changes = IndexChanges()
        with self.writing():
            with self.catalog.session() as session:
                rows = session.execute(select(Asset.id, Asset.path).where(Asset.parent_id.is_(None))).all()
                ids = [i for i, path in rows if under_roots(path, roots)]
                remove_assets(session, self.catalog, ids, changes)
            indexes = SelfHealingIndexes(self.indexes)
            for space in SPACES:
                if changes.remove[space]:
                    indexes.remove(space, changes.remove[space])
            indexes.save()
        return len(ids)

    def rebuild(self, spec: str | None = None) -> dict[str, Any]:
        """Rebuild every index from the stored vectors (no re-embedding), optionally with a new spec."""
        with self.writing():
            for space in SPACES:
                self.indexes.rebuild(space, spec)
            self.indexes.save()
            return self.indexes.status()

    def tag(self, asset_ids: Sequence[int], add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        with self.writing(), self.catalog.session() as session:
            tags = {name: _tag(session, name) for name in add}
            for asset_id in asset_ids:
                asset = session.get(Asset, int(asset_id))
                if asset is None:
                    raise ValueError(f"no library item with id {asset_id}")
                asset.tags = [t for t in asset.tags if t.name not in set(remove)]
                asset.tags.extend(t for name, t in tags.items() if name not in {x.name for x in asset.tags})

    # -- searching ------------------------------------------------------------------------------------------

    def search_text(self, query: str, k: int = 10, filters: Filters | dict[str, Any] | None = None, *,
                    kind: str = "image", mode: str | None = None) -> list[Hit]:
        """Text → images (kind "image"/"generated") or text → passages (kind "text"/"document")."""
        query = vector_search.check_query_text(query)
        parsed = Filters.parse(filters)
        space = _space_of(kind)
        if space == TEXT_SPACE:
            from .retrieval.text_search import search_passages

            return search_passages(self, query, k, mode=mode, filters=parsed)
        return self.search(text=query, k=k, filters=parsed.with_kind(kind) if kind != "image" else parsed)

    def search_image(self, image: Any, k: int = 10, filters: Filters | dict[str, Any] | None = None) -> list[Hit]:
        """Image → images. ``image``: a path, bytes, a PIL image, or a library id."""
        return self.search(image=image, k=k, filters=filters)

    def similar(self, asset_id: int, k: int = 10, filters: Filters | dict[str, Any] | None = None) -> list[Hit]:
        """More like library item ``asset_id`` (the item itself is left out)."""
        vector = vector_search.stored_vector(self.catalog, _item_id(asset_id))
        return vector_search.search_space(self.catalog, self.indexes, vector, k, Filters.parse(filters),
                                          exclude=[int(asset_id)])

    def search(self, text: str | None = None, image: Any = None, *, image_weight: float = 0.5,
               negative: str | None = None, negative_weight: float = 0.5, k: int = 10,
               filters: Filters | dict[str, Any] | None = None) -> list[Hit]:
        """Combined query: ``(1-w)·text + w·image − negative_weight·negative``, all in CLIP space."""
        k = vector_search.check_k(k)
        parsed = Filters.parse(filters)
        query = self.query_vector(text, image, image_weight=image_weight, negative=negative,
                                  negative_weight=negative_weight)
        return vector_search.search_space(self.catalog, self.indexes, query, k, parsed)

    def query_vector(self, text: str | None = None, image: Any = None, *, image_weight: float = 0.5,
                     negative: str | None = None, negative_weight: float = 0.5) -> np.ndarray:
        if text is None and image is None:
            raise ValueError("give a text query, an image query, or both")
        if not 0.0 <= image_weight <= 1.0:
            raise ValueError(f"image_weight must be in [0, 1], got {image_weight}")
        parts: list[tuple[np.ndarray, float]] = []
        if text is not None:
            text = vector_search.check_query_text(text)[:MAX_QUERY_CHARS]
            parts.append((self.clip.embed_texts([text])[0], 1.0 - image_weight if image is not None else 1.0))
        if image is not None:
            parts.append((self._image_vector(image), image_weight if text is not None else 1.0))
        if negative:
            negative = vector_search.check_query_text(negative, "negative")[:MAX_QUERY_CHARS]
            parts.append((self.clip.embed_texts([negative])[0], -abs(negative_weight)))
        return vector_search.combine(parts)

    def _image_vector(self, image: Any) -> np.ndarray:
        from .ingest.images import load_query_image

        if isinstance(image, (int, np.integer)) and not isinstance(image, bool):
            return vector_search.stored_vector(self.catalog, _item_id(image))
        rgb = load_query_image(image, self.settings.ingest.max_image_pixels)
        return self.clip.embed_images([rgb])[0]

    def duplicates(self, max_hash_distance: int | None = None, min_similarity: float | None = None,
                   filters: Filters | dict[str, Any] | None = None) -> list[DuplicateGroup]:
        from .retrieval import duplicates as dup

        return dup.find_duplicates(
            self.catalog,
            max_hash_distance=dup.DEFAULT_MAX_HASH_DISTANCE if max_hash_distance is None else max_hash_distance,
            min_similarity=dup.DEFAULT_MIN_SIMILARITY if min_similarity is None else min_similarity,
            filters=Filters.parse(filters),
        )

    def get_asset(self, asset_id: int) -> Asset:
        with self.catalog.session() as session:
            asset = session.get(Asset, _item_id(int(asset_id)))
            if asset is None:
                raise ValueError(f"no library item with id {asset_id}")
            _ = asset.tags  # load while the session is open
            return asset

    def skipped(self) -> list[tuple[str, str]]:
        """Files the library could not ingest, with the reason."""
        with self.catalog.session() as session:
            rows = session.execute(select(Asset.path, Asset.error).where(Asset.status == "skipped")
                                   .order_by(Asset.path)).all()
        return [(path, error or "") for path, error in rows]

    def status(self) -> dict[str, Any]:
        from .library_status import library_status

        return library_status(self)

    # -- RAG and generation (implemented in their layers) ---------------------------------------------------

    def ask(self, question: str, **options: Any) -> Any:
        """Answer a question over the documents with numbered citations (see ``retrieval.rag.ask``)."""
        from .retrieval.rag import ask

        return ask(self, question, **options)

    def as_retriever(self, **options: Any) -> Any:
        """A llama-index retriever over this library's passages."""
        from .retrieval.llama_index import MmragRetriever

        return MmragRetriever(self, **options)

    def as_query_engine(self, llm: Any = None, **options: Any) -> Any:
        """A llama-index query engine; with ``llm=None`` answers are extractive."""
        from .retrieval.llama_index import as_query_engine

        return as_query_engine(self, llm=llm, **options)

    def generate(self, prompt: str, **options: Any) -> Any:
        """Retrieval-guided generation (see ``generation.service.generate``)."""
        from .generation.service import generate

        with self.writing():
            return generate(self, prompt, **options)


class SelfHealingIndexes:
    """The writer's view of the index set: an index file that fails its checks (a kill between writing an
    index and its sidecar leaves such a pair) is rebuilt from the stored vectors, the truth, instead of
    failing the write. Readers keep reporting the damage (IndexCorruptError naming `mmrag rebuild`) until
    the writer's next save replaces the file."""

    def __init__(self, indexes: IndexSet) -> None:
        self.indexes = indexes
        self._ready: set[str] = set()

    def _open(self, space: str) -> None:
        if space in self._ready:
            return
        try:
            self.indexes.get(space)
        except IndexCorruptError as exc:
            log.warning("%s -- rebuilding the %s index from the stored vectors", exc, space)
            self.indexes.rebuild(space)
        self._ready.add(space)

    def add(self, space: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        self._open(space)
        self.indexes.add(space, ids, vectors)

    def remove(self, space: str, ids: Sequence[int]) -> int:
        self._open(space)
        return self.indexes.remove(space, ids)

    def save(self, space: str | None = None) -> None:
        """Save; first repair any index file whose size disagrees with its sidecar, even if this run did not
        touch that space (a cheap check: stat and sidecar only)."""
        for name in [space] if space else SPACES:
            if name not in self._ready and _pair_mismatch(self.indexes.path(name)):
                self._open(name)
        self.indexes.save(space)


def _pair_mismatch(path: Path) -> bool:
    from .index import files

    if not path.exists() and not files.sidecar_path(path).exists():
        return False
    try:
        return files.read_sidecar(path)["size"] != path.stat().st_size
    except (IndexCorruptError, OSError):
        return True


def _item_id(value: Any) -> int:
    """A library item id as an int; ids outside the database's 64-bit range name no item (ValueError, not
    the driver's OverflowError)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"a library item id must be an integer, got {value!r}")
    if not 0 <= int(value) < 2**63:
        raise ValueError(f"no library item with id {value}")
    return int(value)


def _space_of(kind: str) -> str:
    try:
        return KIND_SPACES[kind]
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}; valid kinds: {sorted(KIND_SPACES)}") from None


def _tag(session: Any, name: str) -> Tag:
    name = name.strip()
    if not name:
        raise ValueError("tag names cannot be empty")
    tag = session.execute(select(Tag).where(Tag.name == name)).scalar_one_or_none()
    if tag is None:
        tag = Tag(name=name)
        session.add(tag)
        session.flush()
    return tag

