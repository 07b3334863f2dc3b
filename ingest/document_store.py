"""Writing a processed document: its asset, chunks, chunk vectors and the images found inside it.

A changed document has its old chunks, their vectors and its extracted images replaced in the same
transaction that writes the new ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ..catalog import DOCUMENT, IMAGE, IMAGE_SPACE, OK, TEXT_SPACE, Asset, Chunk
from ..catalog.drafts import EmbeddingDrafts
from ..catalog.vectors import delete_vectors, put_vectors, record_space_model
from ..errors import InputError
from .images import open_image, perceptual_hash, save_thumbnail, sha256_bytes, thumbnail_path
from .jobs import FileResult, Known
from .report import IngestReport
from .writer import IndexChanges, mark_skipped, upsert_asset

if TYPE_CHECKING:
    from ..components import Components
    from .documents.handler import EmbeddedImage, ProcessedDocument
    from .ocr import OcrStep


class DocumentWriter:
    def __init__(
        self,
        ctx: Components,
        report: IngestReport,
        check_model: Callable[[str, str], None],
        apply: Callable[[IndexChanges], None],
    ) -> None:
        self.ctx = ctx
        self.report = report
        self.check_model = check_model
        self.apply = apply
        self._ocr: OcrStep | None = None

    def write(self, result: FileResult, old: Known | None, processed: ProcessedDocument | None = None) -> None:
        """Store one document's outcome; ``processed`` when it was chunked and embedded elsewhere (Ray)."""
        if result.action == "touch":
            with self.ctx.catalog.session() as session:
                upsert_asset(session, result, old, DOCUMENT)
            self.report.unchanged += 1
            return
        if processed is None and result.action == "document":
            processed = self._process(result)
        changes = IndexChanges()
        with self.ctx.catalog.session() as session:
            self._drafts(result).clear(session)  # stored or skipped: its embedding batches are done with
            if processed is None:
                mark_skipped(session, self.ctx.catalog, result, old, changes)
                if old is not None:
                    remove_document_parts(session, self.ctx.catalog, old.asset_id, changes)
            else:
                self._store(session, result, old, processed, changes)
        self.apply(changes)
        if processed is None:
            self.report.skipped.append((result.found.path, result.reason or "skipped"))
        else:
            self.report.documents += 1
            self.report.chunks += len(processed.chunks)
            if old is None:
                self.report.added += 1
            else:
                self.report.updated += 1

    def _drafts(self, result: FileResult) -> EmbeddingDrafts:
        return EmbeddingDrafts(self.ctx.catalog, result.found.path)

    def _page_reader(self) -> OcrStep | None:
        """Reads scanned PDF pages (the OCR engine loads on the first page without a text layer)."""
        from .ocr import OcrStep

        if self._ocr is None:  # pages without a text layer have no other text: read whatever ingest.ocr says
            self._ocr = OcrStep("on", self.ctx.settings.ingest.ocr_engine)
        return self._ocr

    def _process(self, result: FileResult) -> ProcessedDocument | None:
        from .documents.handler import process_document

        embedder = self.ctx.text_embedder
        self.check_model(TEXT_SPACE, embedder.fingerprint)
        try:
            return process_document(Path(result.found.path), self.ctx.settings.rag, embedder, self._page_reader(),
                                    self._drafts(result))
        except InputError as exc:
            result.action, result.reason = "skip", str(exc).removeprefix(f"{result.found.path}: ")
        except Exception as exc:  # noqa: BLE001 - one broken file never stops an ingest
            result.action, result.reason = "skip", f"unexpected error: {type(exc).__name__}: {exc}"
        return None

    def _store(self, session: Session, result: FileResult, old: Known | None, processed: ProcessedDocument,
               changes: IndexChanges) -> None:
        embedder = self.ctx.text_embedder
        asset = upsert_asset(session, result, old, DOCUMENT)
        asset.title = processed.title
        session.flush()
        if old is not None:
            remove_document_parts(session, self.ctx.catalog, asset.id, changes)
        chunks = [
            Chunk(asset_id=asset.id, ordinal=i, text=c.text, page=c.page, section=c.section,
                  char_start=c.char_start, char_end=c.char_end)
            for i, c in enumerate(processed.chunks)
        ]
        session.add_all(chunks)
        session.flush()
        chunk_ids = [c.id for c in chunks]
        if chunk_ids:
            put_vectors(session, self.ctx.catalog, TEXT_SPACE, chunk_ids, processed.vectors, embedder.fingerprint)
            changes.add(TEXT_SPACE, chunk_ids, processed.vectors)
            record_space_model(session, self.ctx.catalog, TEXT_SPACE, embedder.fingerprint)
        self._store_images(session, asset, processed.images, chunk_ids, changes)

    def _store_images(self, session: Session, document: Asset, images: list[EmbeddedImage], chunk_ids: list[int],
                      changes: IndexChanges) -> None:
        settings = self.ctx.settings
        kept: list[tuple[Asset, object]] = []
        folder = settings.library / "extracted" / str(document.id)
        for number, embedded in enumerate(images):
            try:
                name = f"{document.path}#{embedded.name}"
                decoded = open_image(embedded.data, name, settings.ingest.max_image_pixels)
            except InputError:
                continue  # an undecodable picture inside a document does not fail the document
            sha = sha256_bytes(embedded.data)
            path = folder / f"{number:03d}-{_safe_name(embedded.name)}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(embedded.data)
            save_thumbnail(decoded.rgb, thumbnail_path(settings.library, sha), settings.ingest.thumbnail_size)
            chunk_id = chunk_ids[embedded.chunk_ordinal] if embedded.chunk_ordinal is not None and \
                embedded.chunk_ordinal < len(chunk_ids) else None
            child = Asset(path=path.as_posix(), folder=path.parent.as_posix(), kind=IMAGE, status=OK, sha256=sha,
                          size=len(embedded.data), mtime=document.mtime, width=decoded.width, height=decoded.height,
                          format=decoded.format, phash=perceptual_hash(decoded.rgb), taken_at=document.taken_at,
                          parent_id=document.id, source_chunk_id=chunk_id, title=embedded.name)
            session.add(child)
            kept.append((child, decoded.rgb))
        if not kept:
            return
        session.flush()
        clip = self.ctx.clip
        self.check_model(IMAGE_SPACE, clip.fingerprint)
        vectors = clip.embed_images([rgb for _, rgb in kept])  # type: ignore[misc]
        ids = [child.id for child, _ in kept]
        put_vectors(session, self.ctx.catalog, IMAGE_SPACE, ids, vectors, clip.fingerprint,
                    [child.sha256 for child, _ in kept])
        changes.add(IMAGE_SPACE, ids, vectors)
        record_space_model(session, self.ctx.catalog, IMAGE_SPACE, clip.fingerprint)
        self.report.images_embedded += len(ids)


def remove_document_parts(session: Session, catalog: object, asset_id: int, changes: IndexChanges) -> None:
    """Delete a document's chunks, their vectors, and its extracted images with theirs."""
    chunk_ids = list(session.execute(select(Chunk.id).where(Chunk.asset_id == asset_id)).scalars())
    children = list(session.execute(select(Asset.id).where(Asset.parent_id == asset_id)).scalars())
    if chunk_ids and delete_vectors(session, catalog, TEXT_SPACE, chunk_ids):  # type: ignore[arg-type]
        changes.remove[TEXT_SPACE].extend(chunk_ids)
    if children and delete_vectors(session, catalog, IMAGE_SPACE, children):  # type: ignore[arg-type]
        changes.remove[IMAGE_SPACE].extend(children)
    if children:
        session.execute(delete(Asset).where(Asset.id.in_(children)))
    if chunk_ids:
        session.execute(delete(Chunk).where(Chunk.id.in_(chunk_ids)))


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:80].strip("._")
    return cleaned or "image"

