"""The Python API: one object per library folder, a thin façade over its :class:`~mmrag.components.Components`.

    lib = Library("~/my-library")                 # or Library(settings), or Library(clip_model="tiny-test")
    lib.ingest(["~/Pictures"])
    lib.search_text("a cat", k=10, filters={"folder": "2024/*"})

Each method checks its arguments, takes the write lock where it writes, and hands the components to the
layer that does the work (ingest, retrieval, generation). Models are injected through the constructor:
``Library(path, clip=my_clip, text_embedder=my_text_model)``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from .catalog import SPACES, TEXT_SPACE, Asset, Catalog, Tag, space_of
from .catalog.vectors import space_model
from .components import Components, models_pinned
from .errors import LibraryLockedError
from .ingest.report import IngestReport
from .retrieval import search as vector_search
from .retrieval.filters import Filters
from .retrieval.hits import DuplicateGroup, Hit
from .settings import SETTINGS_FILE, Settings

if TYPE_CHECKING:
    from llama_index.core.base.llms.base import BaseLLM
    from llama_index.core.query_engine import RetrieverQueryEngine
    from PIL import Image

    from .generation.base import GenerationResult
    from .generation.base import ProgressCallback as StepCallback
    from .generation.request import GenerationRequest
    from .index.index_set import IndexSet
    from .ingest.pipeline import ProgressCallback
    from .ingest.trash import TrashItem
    from .models.base import ImageTextEmbedder, TextEmbedder
    from .retrieval.answer import Answer
    from .retrieval.llama_index import MmragRetriever

    # What an image query may be: a file path, encoded bytes, a PIL image, or a library id.
    ImageQuery = str | os.PathLike[str] | bytes | Image.Image | int

LOCK_FILE = ".write.lock"
MAX_QUERY_CHARS = vector_search.MAX_QUERY_CHARS


class Library:
    """A library folder: catalog, vector indexes, models. Models load on first use and are kept."""

    def __init__(
        self,
        library: str | os.PathLike[str] | Settings | None = None,
        *,
        components: Components | None = None,
        clip: ImageTextEmbedder | None = None,
        text_embedder: TextEmbedder | None = None,
        **overrides: Any,
    ) -> None:
        """Open (or create) a library. ``library``: a folder or a Settings object; ``overrides``: settings
        fields (validated: an unknown key or a bad value raises ValueError); ``clip`` / ``text_embedder``:
        models to use instead of loading the configured ones; ``components``: everything, already built."""
        if components is None:
            follow = not isinstance(library, Settings) and not models_pinned(overrides)  # the recorded model wins
            settings = _settings(library, overrides)
            components = Components(settings, clip=clip, text_embedder=text_embedder, follow_recorded_clip=follow)
        elif library is not None or overrides or clip is not None or text_embedder is not None:
            raise ValueError("give either components or a library with settings and models, not both")
        self.components = components
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"Library({str(self.path)!r})"

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.components.close()

    # -- components ---------------------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.components.settings

    @property
    def path(self) -> Path:
        return self.components.path

    @property
    def catalog(self) -> Catalog:
        return self.components.catalog

    @property
    def clip(self) -> ImageTextEmbedder:
        return self.components.clip

    @property
    def text_embedder(self) -> TextEmbedder:
        return self.components.text_embedder

    @property
    def indexes(self) -> IndexSet:
        return self.components.indexes

    # -- writing --------------------------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[Library]:
        """Hold the library's write lock (one writer per library; readers are never blocked)."""
        from filelock import FileLock, Timeout

        from .ingest.writer import remove_leftover_temp_files

        lock = FileLock(str(self.path / LOCK_FILE))
        try:
            lock.acquire(timeout=self.settings.lock_timeout)
        except Timeout:
            raise LibraryLockedError(
                f"another process is writing to library {str(self.path)!r} (lock {self.path / LOCK_FILE}); "
                "wait for it to finish"
            ) from None
        try:
            with self._lock:
                self.indexes.writable = True
                remove_leftover_temp_files(self.path / "index")  # no other writer can be writing them
                yield self
        finally:
            self.indexes.writable = False
            _checkpoint(self.catalog)  # catalog.sqlite alone then holds every committed write
            lock.release()

    def ingest(self, paths: Iterable[str | os.PathLike[str]] | str | os.PathLike[str], *,
               progress: ProgressCallback | None = None, engine: str | None = None,
               ray_address: str | None = None) -> IngestReport:
        """Add new and changed files under ``paths``, drop deleted ones; unchanged files cost no model work.

        ``engine="ray"`` decodes and embeds on a Ray cluster (``ray_address``; default the ``ingest.engine`` and
        ``ingest.ray_address`` settings); this process stays the one writer of the catalog."""
        from .ingest.pipeline import Ingestor

        roots = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        if not roots:
            raise ValueError("ingest needs at least one folder or file")
        with self.writing():
            try:
                return Ingestor(self.components, progress, engine=engine, ray_address=ray_address).run(roots)
            finally:  # models are recorded with their first vectors: a failed first ingest records nothing
                if not (self.path / SETTINGS_FILE).exists() and any(space_model(self.catalog, s) for s in SPACES):
                    self.settings.save()

    def remove(self, paths: Iterable[str | os.PathLike[str]]) -> int:
        """Drop assets (files or whole folders) from the library; the files on disk are not touched."""
        from .index.healing import SelfHealingIndexes
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

    def trash(self, asset_ids: Sequence[int], *, keep: int | None = None) -> list[TrashItem]:
        """Move items' files into ``<library>/.trash/`` (never deleted) and drop them from search; ``keep``: the
        copy kept instead. Only files under the library folder or ``serve.ingest_roots`` move."""
        from .ingest.trash import move_to_trash

        with self.writing():
            return move_to_trash(self.components, asset_ids, keep)

    def restore(self, entry_ids: Sequence[int]) -> list[TrashItem]:
        """Undo :meth:`trash`: move the files back (a new name if their place is taken) and ingest them again."""
        from .ingest.trash import restore_files

        with self.writing():
            items = restore_files(self.catalog, entry_ids)
        self.ingest([item.restored_path for item in items if item.restored_path])
        return items

    def trash_list(self, include_restored: bool = False) -> list[TrashItem]:
        """What is in the trash, newest first (and what was restored, with ``include_restored``)."""
        from .ingest.trash import list_trash

        return list_trash(self.catalog, include_restored)

    def rebuild(self, spec: str | None = None) -> dict[str, Any]:
        """Rebuild every index from the stored vectors (no re-embedding), optionally with a new spec."""
        from .catalog.vectors import count_vectors
        from .index.guards import check_spec_fits

        with self.writing():
            self.catalog.require_sound()  # a malformed catalog must not "rebuild" from what it still yields
            check_spec_fits(spec, {space: count_vectors(self.catalog, space) for space in SPACES})
            for space in SPACES:
                self.indexes.rebuild(space, spec)
            self.indexes.save()
            return self.indexes.status()

    def tag(self, asset_ids: Sequence[int], add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """Add and remove tags on library items (tags are created on first use)."""
        with self.writing(), self.catalog.session() as session:
            tags = {name: _tag(session, name) for name in add}
            for asset_id in asset_ids:
                asset = session.get(Asset, vector_search.item_id(asset_id))
                if asset is None:
                    raise ValueError(f"no library item with id {asset_id}")
                asset.tags = [t for t in asset.tags if t.name not in set(remove)]
                asset.tags.extend(t for name, t in tags.items() if name not in {x.name for x in asset.tags})

    # -- searching ------------------------------------------------------------------------------------------

    def search_text(self, query: str, k: int = 10, filters: Filters | dict[str, Any] | None = None, *,
                    kind: str = "image", mode: str | None = None, search_in: str = "all") -> list[Hit]:
        """Text → images (kind "image"/"generated") or text → passages (kind "text"/"document").

        Images rank by CLIP similarity fused with matches of the query in the text OCR read in them
        (``search_in``: "all"; "clip" or "text" for one of the two); each hit's ``extra["match"]`` says why
        (clip, text, both) and text matches carry the matched lines in ``text``."""
        query = vector_search.check_query_text(query)
        parsed = Filters.parse(filters)
        if space_of(kind) == TEXT_SPACE:
            from .retrieval.text_search import search_passages

            return search_passages(self.components, query, k, mode=mode, filters=parsed)
        from .retrieval.ocr_search import search_images_by_text

        return search_images_by_text(self.components, query[:MAX_QUERY_CHARS], k,
                                     parsed.with_kind(kind) if kind != "image" else parsed, search_in=search_in)

    def search_image(self, image: ImageQuery, k: int = 10,
                     filters: Filters | dict[str, Any] | None = None) -> list[Hit]:
        """Image → images. ``image``: a path, bytes, a PIL image, or a library id."""
        return self.search(image=image, k=k, filters=filters)

    def similar(self, asset_id: int, k: int = 10, filters: Filters | dict[str, Any] | None = None) -> list[Hit]:
        """More like library item ``asset_id`` (the item itself is left out)."""
        return vector_search.similar_images(self.components, asset_id, k, filters)

    def search(self, text: str | None = None, image: ImageQuery | None = None, *, image_weight: float = 0.5,
               negative: str | None = None, negative_weight: float = 0.5, k: int = 10,
               filters: Filters | dict[str, Any] | None = None) -> list[Hit]:
        """Combined query: ``(1-w)·text + w·image − negative_weight·negative``, all in CLIP space."""
        return vector_search.search_images(self.components, text, image, image_weight=image_weight,
                                           negative=negative, negative_weight=negative_weight, k=k,
                                           filters=filters)

    def query_vector(self, text: str | None = None, image: ImageQuery | None = None, *,
                     image_weight: float = 0.5, negative: str | None = None,
                     negative_weight: float = 0.5) -> np.ndarray:
        """The unit CLIP vector of a combined query (what :meth:`search` searches with)."""
        return vector_search.query_vector(self.components, text, image, image_weight=image_weight,
                                          negative=negative, negative_weight=negative_weight)

    def duplicates(self, min_confidence: float | None = None,
                   filters: Filters | dict[str, Any] | None = None) -> list[DuplicateGroup]:
        """Groups of copies of one picture (resized, re-encoded, edited, cropped, rotated, mirrored), each pair
        labelled with a confidence, the best original first; pairs below ``min_confidence`` (default 0.5,
        the documented thresholds) are left out. See docs/search.md, "Duplicates"."""
        from .retrieval import duplicates as dup

        return dup.find_duplicates(
            self.catalog,
            min_confidence=dup.DEFAULT_MIN_CONFIDENCE if min_confidence is None else min_confidence,
            filters=Filters.parse(filters), library=self.path,
            max_pixels=self.settings.ingest.max_image_pixels,
        )

    def get_asset(self, asset_id: int) -> Asset:
        """The catalog row of a library item, its tags loaded."""
        return vector_search.get_asset(self.catalog, asset_id)

    def skipped(self) -> list[tuple[str, str]]:
        """Files the library could not ingest, with the reason."""
        with self.catalog.session() as session:
            rows = session.execute(select(Asset.path, Asset.error).where(Asset.status == "skipped")
                                   .order_by(Asset.path)).all()
        return [(path, error or "") for path, error in rows]

    def status(self) -> dict[str, Any]:
        from .library_status import library_status

        return library_status(self.components)

    # -- RAG and generation (implemented in their layers) ---------------------------------------------------

    def ask(self, question: str, *, k: int | None = None, mode: str | None = None, llm: str | None = None,
            filters: Filters | dict[str, Any] | None = None, image_k: int = 4, base_url: str | None = None,
            model: str | None = None, api_key: str | None = None, model_path: str | None = None,
            max_tokens: int | None = None, temperature: float | None = None) -> Answer:
        """Answer a question over the documents with numbered citations, then related images.

        ``k`` passages (default ``settings.rag.top_k``) found by ``mode`` (dense | bm25 | hybrid); ``llm``:
        extractive | openai-like | llama-cpp (default ``settings.rag.llm``); ``image_k`` related images; the
        other arguments override the RAG settings for this call (None keeps the setting).
        """
        from .retrieval.answerers.registry import AnswererOptions
        from .retrieval.rag import ask

        options = AnswererOptions(base_url=base_url, api_key=api_key, model=model, model_path=model_path,
                                  max_tokens=max_tokens, temperature=temperature)
        return ask(self.components, question, k=k, mode=mode, llm=llm, filters=filters, image_k=image_k,
                   llm_options=options)

    def as_retriever(self, k: int | None = None, mode: str | None = None,
                     filters: Filters | dict[str, Any] | None = None) -> MmragRetriever:
        """A llama-index retriever over this library's passages."""
        from .retrieval.llama_index import MmragRetriever

        return MmragRetriever(self.components, k=k, mode=mode, filters=filters)

    def as_query_engine(self, llm: str | BaseLLM | None = None, *, k: int | None = None, mode: str | None = None,
                        filters: Filters | dict[str, Any] | None = None, base_url: str | None = None,
                        model: str | None = None, api_key: str | None = None, model_path: str | None = None,
                        max_tokens: int | None = None, temperature: float | None = None) -> RetrieverQueryEngine:
        """A llama-index query engine; ``llm``: None (extractive), an answerer name, or a llama-index LLM."""
        from .retrieval.answerers.registry import AnswererOptions
        from .retrieval.llama_index import as_query_engine

        options = AnswererOptions(base_url=base_url, api_key=api_key, model=model, model_path=model_path,
                                  max_tokens=max_tokens, temperature=temperature)
        return as_query_engine(self.components, llm, k=k, mode=mode, filters=filters, llm_options=options)

    def generate(self, request: GenerationRequest | str, *, refs: Any = None, like: str | None = None, k: int = 1,
                 ref_ids: Sequence[int] | None = None, ref_images: Sequence[ImageQuery] | None = None,
                 progress: StepCallback | None = None, store: bool = True) -> GenerationResult:
        """Retrieval-guided generation: ``request`` (or just a prompt) with its references: ``refs`` (Hits,
        ids, paths or PIL images), ``ref_ids``, ``ref_images`` and the ``k`` nearest images of ``like``.
        Unset request fields come from ``settings.generation``; outputs are stored with provenance."""
        from .generation.refs import ReferenceSources
        from .generation.request import GenerationRequest
        from .generation.service import generate

        if isinstance(request, str):
            request = GenerationRequest(prompt=request)
        sources = ReferenceSources(refs=refs, like=like, k=k, ref_ids=ref_ids, ref_images=ref_images)
        with self.writing():
            return generate(self.components, request, sources, progress=progress, store=store)


def _checkpoint(catalog: Catalog) -> None:
    """End of a write: checkpoint the WAL (best effort: a failure leaves the data safely in the WAL)."""
    from sqlalchemy.exc import SQLAlchemyError

    from .errors import MmragError

    try:
        catalog.checkpoint()
    except (MmragError, SQLAlchemyError):
        pass


def _settings(library: str | os.PathLike[str] | Settings | None, overrides: dict[str, Any]) -> Settings:
    """The library's settings: the given Settings (or a folder's) with ``overrides`` validated on top."""
    if isinstance(library, Settings):
        return library.override(**overrides) if overrides else library
    if library is not None:
        overrides["library"] = library
    return Settings(**overrides)


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

