"""Ask the library: retrieve passages, answer with numbered citations, then add related images.

Images come two ways: pictures found inside the cited passages (image assets whose ``source_chunk_id`` is a
cited chunk: PDF figures, HTML/Markdown images) first, then CLIP text→image hits for the question.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Protocol

from sqlalchemy import select

from ..catalog.models import IMAGE_SPACE, OK, Asset
from ..catalog.vectors import count_vectors
from ..errors import ModelNotFoundError
from .answer import Answer, Citation
from .answerers.registry import make_answerer
from .filters import Filters
from .hits import Hit
from .text_search import PassageLibrary, check_mode, search_passages

log = logging.getLogger(__name__)
IMAGE_K = 4


class RagLibrary(PassageLibrary, Protocol):
    """Passage search plus CLIP text → image search (``mmrag.library.Library`` provides both)."""

    def search_text(self, query: str, k: int = 10, filters: Any = None, *, kind: str = "image",
                    mode: str | None = None) -> list[Hit]: ...


def ask(
    lib: RagLibrary,
    question: str,
    *,
    k: int | None = None,
    mode: str | None = None,
    llm: str | None = None,
    filters: Filters | dict[str, Any] | None = None,
    image_k: int = IMAGE_K,
    **llm_options: Any,
) -> Answer:
    """Answer ``question`` from the library's documents.

    ``llm``: extractive | openai-like | llama-cpp (default ``settings.rag.llm``); ``llm_options`` override
    the RAG settings for this call (base_url, model, api_key, model_path, max_tokens, temperature).
    """
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty string, got {question!r}")
    rag = lib.settings.rag
    name = llm or rag.llm
    mode = check_mode(mode or rag.mode)
    answerer = make_answerer(name, rag, embedder=lambda: lib.text_embedder, **llm_options)
    passages = search_passages(lib, question, k or rag.top_k, mode=mode, filters=filters)
    answer = answerer.answer(question, passages)
    images = related_images(lib, question, answer.citations, image_k) if answer.answered else []
    return dataclasses.replace(answer, images=images, question=question, mode=mode, llm=name)


def related_images(lib: RagLibrary, question: str, citations: list[Citation], k: int = IMAGE_K) -> list[Hit]:
    """Images inside the cited passages, then CLIP hits for the question (none when the library has none)."""
    hits = linked_images(lib, citations)
    if k > 0 and count_vectors(lib.catalog, IMAGE_SPACE) > 0:
        try:
            found = lib.search_text(question, k=k, kind="image")
        except ModelNotFoundError as exc:  # the answer stands without the extras
            log.warning("related images skipped: %s", exc)
            found = []
        seen = {hit.id for hit in hits}
        for hit in found:
            if hit.id not in seen:
                hit.extra["via"] = "clip"
                hits.append(hit)
                seen.add(hit.id)
    return hits


def linked_images(lib: PassageLibrary, citations: list[Citation]) -> list[Hit]:
    """Image assets extracted from the cited chunks, in citation order."""
    numbers = {c.chunk_id: c for c in citations if c.chunk_id is not None}
    if not numbers:
        return []
    with lib.catalog.session() as session:
        rows = session.execute(
            select(Asset).where(Asset.source_chunk_id.in_(list(numbers)), Asset.status == OK).order_by(Asset.id)
        ).scalars().all()
    hits = []
    for asset in sorted(rows, key=lambda a: numbers[a.source_chunk_id].number):
        citation = numbers[asset.source_chunk_id]
        extra = {"via": "citation", "citation": citation.number, "parent_id": asset.parent_id}
        hits.append(Hit(id=asset.id, path=asset.path, score=citation.score, kind=asset.kind, width=asset.width,
                        height=asset.height, chunk_id=asset.source_chunk_id, extra=extra))
    return hits
