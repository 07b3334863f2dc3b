"""The OCR text of images embedded with the library's text model, so text → image search finds an image by
what its text *means* ("drugstore" finds a "PHARMACY" sign), not only by the words BM25 matches.

One vector per image whose OCR found text, in the ``ocr_text`` space of the ``vectors`` table (item id =
asset id, model = the text embedder's fingerprint, ``content_sha256`` = SHA-256 of the text it embeds).
It runs at the end of every image ingest and brings the space up to date: new or changed text is embedded,
vectors of images that lost their text or were removed are deleted. A library made before this step gets
its vectors on its next ``mmrag ingest`` (a no-op re-run is enough); nothing else needs migrating.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

from sqlalchemy import and_, select

from ..catalog.models import OCR_SPACE, OK, Asset, OcrText, Vector
from ..catalog.ocr_text import OCR_TEXT_SPACE
from ..catalog.vectors import delete_vectors, put_vectors
from ..models.ocr_base import searchable_text

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..components import Components

log = logging.getLogger(__name__)
BATCH = 256  # texts embedded and committed together
MODEL_KEY = f"model:{OCR_TEXT_SPACE}"  # the text model that made the vectors (catalog meta)
SYNCED_KEY = f"synced:{OCR_TEXT_SPACE}"  # the ``ocr`` generation the vectors were last brought up to
MAX_CHARS = 2000  # the text model reads a few hundred word pieces at most; a page of OCR text is cut here


def embedding_input(text: str) -> str:
    """What the text model reads for one image's OCR text (run-together words split, long text cut)."""
    return " ".join(searchable_text(text).split())[:MAX_CHARS]


def text_sha(text: str) -> str:
    return hashlib.sha256(embedding_input(text).encode("utf-8")).hexdigest()


def pending_ocr_texts(catalog: Catalog, model: str | None) -> tuple[list[tuple[int, str]], list[int]]:
    """(asset id, text) of images whose text has no current vector from ``model``, and the ids of vectors
    whose image no longer has text (or no longer exists)."""
    with catalog.session() as session:
        rows = session.execute(
            select(OcrText.asset_id, OcrText.text, Vector.model, Vector.content_sha256)
            .join(Asset, and_(Asset.id == OcrText.asset_id, Asset.status == OK))
            .outerjoin(Vector, and_(Vector.space == OCR_TEXT_SPACE, Vector.item_id == OcrText.asset_id))
            .where(OcrText.has_text.is_(True))
        ).all()
        stored = set(session.execute(select(Vector.item_id).where(Vector.space == OCR_TEXT_SPACE)).scalars())
    wanted = {int(asset_id) for asset_id, *_ in rows}
    todo = [(int(asset_id), text) for asset_id, text, vector_model, sha in rows
            if vector_model != model or sha != text_sha(text)]
    return todo, sorted(stored - wanted)


def sync_ocr_vectors(components: Components) -> int:
    """``embed_ocr_texts`` when the OCR text changed since the last sync (a no-op ingest reads one meta
    row). A failure (the text model cannot load, or differs from the library's) costs the semantic match
    only: it is logged, the images keep their text and words search, and the next ingest tries again."""
    catalog = components.catalog
    generation = str(catalog.generation(OCR_SPACE))
    if generation == "0" or catalog.get_meta(SYNCED_KEY) == generation:  # "0": no image was ever read
        return 0
    try:
        embedded = embed_ocr_texts(components)
    except Exception as exc:  # noqa: BLE001 - the images are committed; only their text vectors are missing
        log.warning("the OCR text was not embedded with the text model (%s: %s); text search in images "
                    "matches its words only until the next ingest", type(exc).__name__, exc)
        return 0
    catalog.set_meta(SYNCED_KEY, generation)
    return embedded


def embed_ocr_texts(components: Components) -> int:
    """Bring the ``ocr_text`` vectors up to date; returns how many texts were embedded. The text model loads
    only when some text needs it; a library whose text model changed gets all its OCR text re-embedded."""
    catalog = components.catalog
    recorded = catalog.get_meta(MODEL_KEY)
    todo, gone = pending_ocr_texts(catalog, recorded)
    embedder = components.text_embedder if todo else None
    if embedder is not None and embedder.fingerprint != recorded:
        todo, gone = pending_ocr_texts(catalog, embedder.fingerprint)
    if gone:
        with catalog.session() as session:
            delete_vectors(session, catalog, OCR_TEXT_SPACE, gone)
    for start in range(0, len(todo), BATCH):
        assert embedder is not None
        part = todo[start : start + BATCH]
        vectors = embedder.embed_texts([embedding_input(text) for _, text in part])
        with catalog.session() as session:
            put_vectors(session, catalog, OCR_TEXT_SPACE, [asset_id for asset_id, _ in part], vectors,
                        embedder.fingerprint, [text_sha(text) for _, text in part])
            catalog.set_meta(MODEL_KEY, embedder.fingerprint, session)
    if todo:
        log.info("embedded the OCR text of %d images with %s", len(todo), embedder and embedder.fingerprint)
    return len(todo)
