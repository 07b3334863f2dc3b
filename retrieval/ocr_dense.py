"""Semantic matches of a query in the OCR text of images: the query embedded with the library's text model
against the ``ocr_text`` vectors (``ingest.ocr_vectors``), exact inner product.

The vectors are one per image with text (a small minority of a photo library), so an exact scan of an
in-memory float32 matrix answers in milliseconds; the matrix is reloaded from the catalog when the space's
generation moves on. Only images at or above ``MIN_COSINE`` are matches: every image with text has *some*
similarity to any query, and the fused ranking should only hear about the ones that mean the same thing.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

import numpy as np

from ..catalog.ocr_text import OCR_TEXT_SPACE
from ..catalog.vectors import iter_vectors, space_model

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..components import Components

log = logging.getLogger(__name__)
# all-MiniLM-L6-v2 cosine between a short query and an image's text: unrelated pairs sit around 0–0.25,
# "drugstore" vs "PHARMACY OPEN" 0.5+; below this the text says nothing about the query.
MIN_COSINE = 0.35


class OcrVectorStore:
    """The ``ocr_text`` vectors of one library in memory, reloaded when their generation moves on."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._lock = threading.Lock()
        self._generation = -1
        self._ids = np.zeros(0, dtype=np.int64)
        self._matrix = np.zeros((0, 0), dtype=np.float32)

    def get(self) -> tuple[np.ndarray, np.ndarray]:
        generation = self.catalog.generation(OCR_TEXT_SPACE)
        with self._lock:
            if generation != self._generation:
                parts = list(iter_vectors(self.catalog, OCR_TEXT_SPACE))
                self._ids = np.concatenate([ids for ids, _ in parts]) if parts else np.zeros(0, dtype=np.int64)
                self._matrix = np.concatenate([m for _, m in parts]) if parts else np.zeros((0, 0), np.float32)
                self._generation = generation
            return self._ids, self._matrix


def semantic_matches(components: Components, query: str, k: int,
                     allowed_ids: np.ndarray | None = None) -> list[tuple[int, float]]:
    """(asset id, cosine) of the images whose OCR text means what ``query`` says, best first, at most ``k``.

    Empty, without loading the text model, when the library has no OCR text vectors; empty (with a log
    line) when they were made by another model than the configured one (the next ingest re-embeds them)."""
    ids, matrix = components.ocr_text_vectors.get()
    if not len(ids) or not query.strip():
        return []
    embedder = components.text_embedder
    recorded = space_model(components.catalog, OCR_TEXT_SPACE)
    if recorded != embedder.fingerprint:
        log.info("OCR text vectors made by %s, not %s: semantic text match skipped until the next ingest",
                 recorded, embedder.fingerprint)
        return []
    scores = matrix @ embedder.embed_texts([query], is_query=True)[0].astype(np.float32)
    keep = scores >= MIN_COSINE
    if allowed_ids is not None:
        keep &= np.isin(ids, allowed_ids)
    chosen = np.flatnonzero(keep)
    chosen = chosen[np.argsort(-scores[chosen], kind="stable")][:k]
    return [(int(ids[i]), float(scores[i])) for i in chosen]
