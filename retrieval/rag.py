"""Ask the library: retrieve passages, answer with numbered citations, then add related images.

Images come two ways: pictures found inside the cited passages (image assets whose ``source_chunk_id`` is a
cited chunk: PDF figures, HTML/Markdown images) first, then CLIP text→image hits for the question.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ..catalog.models import IMAGE_SPACE, OK, TEXT_SPACE, Asset
from ..catalog.vectors import count_vectors
from ..errors import ModelNotFoundError
from .answer import NO_DOCUMENTS, Answer, Citation
from .answerers.registry import AnswererOptions, make_answerer
from .filters import Filters
from .hits import Hit
from .search import search_images
from .text_search import check_mode, search_passages

if TYPE_CHECKING:
    from ..components import Components

log = logging.getLogger(__name__)
IMAGE_K = 4


def ask(
    components: Components,
    question: str,
    *,
    k: int | None = None,
    mode: str | None = None,
    llm: str | None = None,
    filters: Filters | dict[str, Any] | None = None,
    image_k: int = IMAGE_K,
    llm_options: AnswererOptions | None = None,
) -> Answer:
    """Answer ``question`` from the library's documents.

    ``llm``: extractive | openai-like | llama-cpp (default ``settings.rag.llm``); ``llm_options`` override
    the RAG settings for this call (base_url, model, api_key, model_path, max_tokens, temperature).
    """
    if not isinstance(question, str) or not question.strip():
        raise ValueError(f"question must be a non-empty string, got {question!r}")
    rag = components.settings.rag
    name = llm or rag.llm
    mode = check_mode(mode or rag.mode)
    answerer = make_answerer(name, rag, embedder=lambda: components.text_embedder, overrides=llm_options,
                             kept=components.answer_model)
    if not count_vectors(components.catalog, TEXT_SPACE):
        return Answer(f"{NO_DOCUMENTS}: ingest text, Markdown, HTML or PDF files first (mmrag ingest FOLDER).", [],
                      question=question, mode=mode, llm=name, answered=False)
    passages = search_passages(components, question, k or rag.top_k, mode=mode, filters=filters)
    answer = answerer.answer(question, passages)
    images = related_images(components, question, answer.citations, image_k) if answer.answered else []
    return dataclasses.replace(answer, images=images, question=question, mode=mode, llm=name)


def related_images(components: Components, question: str, citations: list[Citation], k: int = IMAGE_K) -> list[Hit]:
    """Images inside the cited passages, then CLIP hits for the question (none when the library has none)."""
    hits = linked_images(components, citations)
    if k > 0 and count_vectors(components.catalog, IMAGE_SPACE) > 0:
        try:
            found = search_images(components, question, k=k)
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


def linked_images(components: Components, citations: list[Citation]) -> list[Hit]:
    """Image assets extracted from the cited chunks, in citation order."""
    numbers = {c.chunk_id: c for c in citations if c.chunk_id is not None}
    if not numbers:
        return []
    with components.catalog.session() as session:
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
