"""The ingest runner: scan → plan (new / changed / deleted) → decode in workers ∥ embed in batches → commit.

Decoding runs in a thread pool (Pillow releases the GIL) a bounded window ahead of the model, so decode and
embedding overlap. Every ``commit_every`` files are written in one transaction (assets and vectors together):
a crash loses at most that batch, and the next run picks up where this one stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import or_, select

from ..catalog import DOCUMENT, IMAGE, IMAGE_SPACE, TEXT_SPACE, Asset, Vector
from ..catalog.vectors import record_space_model
from .jobs import FileResult, ImageJobOptions, Known, document_job, image_job_for, ordered_map, posix_abs, under_roots
from .ocr import OCR_DRAFT_SIZE, ocr_step
from .ocr_vectors import sync_ocr_vectors
from .report import IngestReport
from .scan import FoundFile, scan
from .writer import IndexChanges, mark_skipped, remove_assets, reusable_vectors, write_images

if TYPE_CHECKING:
    from ..components import Components

ProgressCallback = Callable[[int, int, str], None]  # (files done, files total, current path)


class Ingestor:
    """One ingest run over a library's components; models load only when a file needs them."""

    def __init__(self, components: Components, progress: ProgressCallback | None = None, *,
                 engine: str | None = None, ray_address: str | None = None) -> None:
        from ..index.healing import SelfHealingIndexes

        self.ctx = components
        self.engine = engine or components.settings.ingest.engine  # "local" | "ray"
        if self.engine not in ("local", "ray"):
            raise ValueError(f"unknown ingest engine {self.engine!r}; valid: local, ray")
        self.ray_address = ray_address or components.settings.ingest.ray_address
        self.sink = SelfHealingIndexes(components.indexes)
        self.progress = progress or (lambda done, total, path: None)
        self.report = IngestReport()
        self._last_save = time.monotonic()
        self._job: Callable[..., FileResult] = image_job_for  # bound to the run's settings in _run_images

    def run(self, roots: Iterable[str | Path]) -> IngestReport:
        started = time.perf_counter()
        root_list = [posix_abs(root) for root in roots]
        files = list(scan(root_list, self.ctx.settings.ingest))
        known = self._known(root_list)
        self._remove_missing(files, known, root_list)
        todo = self._plan(files, known)
        self.progress(len(files) - len(todo), len(files), "")
        images = [f for f in todo if f.kind != "document"]
        documents = [f for f in todo if f.kind == "document"]
        done = len(files) - len(todo)
        done = self._run_images(images, known, done, len(files))
        self._run_documents(documents, known, done, len(files))
        sync_ocr_vectors(self.ctx)  # the OCR text's text-model vectors (semantic text search in images)
        self._save_indexes()
        self.report.seconds = time.perf_counter() - started
        return self.report

    # -- planning -------------------------------------------------------------------------------------------

    def _known(self, roots: list[str]) -> dict[str, Known]:
        conditions = [or_(Asset.path == r, Asset.path.like(_like_prefix(r), escape="\\")) for r in roots]
        with self.ctx.catalog.session() as session:
            with_vector = select(Vector.item_id).where(Vector.space == IMAGE_SPACE)
            rows = session.execute(
                select(Asset.id, Asset.path, Asset.sha256, Asset.size, Asset.mtime, Asset.status, Asset.kind,
                       Asset.id.in_(with_vector), Asset.error)
                .where(Asset.parent_id.is_(None), Asset.kind.in_((IMAGE, DOCUMENT)), or_(*conditions))
            ).all()
        return {row[1]: Known(row[0], row[2], row[3], row[4], row[5], row[6], bool(row[7]), row[8]) for row in rows}

    def _plan(self, files: list[FoundFile], known: dict[str, Known]) -> list[FoundFile]:
        todo = []
        for found in files:
            old = known.get(found.path)
            if found.error:  # recorded already with the same reason: nothing to do (and no model to load)
                if old and old.status != "ok" and old.error == found.error:
                    self.report.skipped.append((found.path, found.error))
                else:
                    todo.append(found)
            elif old and old.size == found.size and old.mtime == found.mtime:
                if old.status == "ok":
                    self.report.unchanged += 1
                else:
                    self.report.skipped.append((found.path, old.error or "skipped"))
            else:
                todo.append(found)
        return todo

    def _remove_missing(self, files: list[FoundFile], known: dict[str, Known], roots: list[str]) -> None:
        present = {f.path for f in files}
        gone = [k.asset_id for path, k in known.items() if path not in present and under_roots(path, roots)]
        if gone:
            changes = IndexChanges()
            with self.ctx.catalog.session() as session:
                remove_assets(session, self.ctx.catalog, gone, changes)
            self._apply(changes)
            self.report.removed += len(gone)

    # -- images -----------------------------------------------------------------------------------------------

    def _run_images(self, images: list[FoundFile], known: dict[str, Known], done: int, total: int) -> int:
        if not images:
            return done
        settings = self.ctx.settings
        remote = self.engine == "ray"
        fingerprint = self.ctx.configured_clip() if remote else self.ctx.clip.fingerprint
        self.ctx.check_space_model(IMAGE_SPACE, fingerprint)
        read_text = ocr_step(settings.ingest.ocr, settings.ingest.ocr_engine)
        options = ImageJobOptions(
            max_pixels=settings.ingest.max_image_pixels,
            max_bytes=settings.ingest.max_file_bytes,
            thumb_size=settings.ingest.thumbnail_size,
            draft_size=max(settings.ingest.thumbnail_size, 224 if remote else getattr(self.ctx.clip, "image_size", 224),
                           OCR_DRAFT_SIZE if read_text else 0),
        )
        by_sha = self._embedded_shas(fingerprint)
        self._job = partial(image_job_for, known=known, by_sha=by_sha, library=settings.library,
                            preprocess=lambda rgb: self.ctx.clip.preprocess(rgb), read_text=read_text,
                            **vars(options))
        if remote:
            from . import ray_engine

            results = ray_engine.image_results(ray_engine.connect(self.ray_address), images, known,
                                               by_sha, settings, options)
            return self._commit_all(results, known, fingerprint, done, total)
        window = max(2 * settings.batch_size, settings.ingest.commit_every) + settings.workers
        executor = ThreadPoolExecutor(settings.workers, "mmrag-decode") if settings.workers else None
        try:
            return self._commit_all(ordered_map(executor, self._job, images, window), known, fingerprint, done, total)
        finally:
            if executor:
                executor.shutdown(cancel_futures=True)

    def _commit_all(self, results: Iterator[FileResult], known: dict[str, Known], fingerprint: str, done: int,
                    total: int) -> int:
        """Commit results in batches of ``ingest.commit_every`` (a crash loses at most one batch)."""
        while batch := list(islice(results, self.ctx.settings.ingest.commit_every)):
            self._commit_images(batch, known, fingerprint)
            done += len(batch)
            self.progress(done, total, batch[-1].found.path)
        return done

    def _embedded_shas(self, model: str) -> dict[str, int]:
        """Content hashes already embedded with this model: copies and moves reuse their vector."""
        with self.ctx.catalog.session() as session:
            rows = session.execute(
                select(Vector.content_sha256, Vector.item_id).where(
                    Vector.space == IMAGE_SPACE, Vector.model == model, Vector.content_sha256.is_not(None)
                )
            ).all()
        return {sha: item_id for sha, item_id in rows}

    def _commit_images(self, batch: list[FileResult], known: dict[str, Known], fingerprint: str) -> None:
        reused = self._resolve_reuse(batch, fingerprint)
        vectors = {**self._embed(batch), **reused}
        changes = IndexChanges()
        with self.ctx.catalog.session() as session:
            items = [(r, vectors.get(i)) for i, r in enumerate(batch) if r.action in ("embed", "reuse", "touch")]
            write_images(session, self.ctx.catalog, items, known, fingerprint, changes)
            for result in batch:
                if result.action == "skip":
                    mark_skipped(session, self.ctx.catalog, result, known.get(result.found.path), changes)
            gone = [known[r.found.path].asset_id for r in batch if r.action == "gone" and r.found.path in known]
            remove_assets(session, self.ctx.catalog, gone, changes)
            record_space_model(session, self.ctx.catalog, IMAGE_SPACE, fingerprint)
        self._apply(changes)
        self._count(batch, known)

    def _resolve_reuse(self, batch: list[FileResult], model: str) -> dict[int, np.ndarray]:
        """Vectors for the copies in ``batch``, by content hash. A copy whose source changed or vanished
        since the run was planned is decoded here and embedded like a new file."""
        wanted = [r.sha256 for r in batch if r.action == "reuse" and r.sha256]
        if not wanted:
            return {}
        with self.ctx.catalog.session() as session:
            found = reusable_vectors(session, wanted, model)
        vectors: dict[int, np.ndarray] = {}
        for position, result in enumerate(batch):
            if result.action != "reuse":
                continue
            if result.sha256 in found:
                result.reuse_from, vectors[position] = found[result.sha256]
            else:
                batch[position] = self._job(result.found, by_sha={})
        return vectors

    def _embed(self, batch: list[FileResult]) -> dict[int, np.ndarray]:
        """Vectors of the new contents in ``batch``: computed where they were decoded (Ray), or here."""
        positions = [i for i, r in enumerate(batch) if r.action == "embed" and r.vector is None]
        vectors = {i: r.vector for i, r in enumerate(batch) if r.action == "embed" and r.vector is not None}
        self.report.images_embedded += len(vectors)
        clip = self.ctx.clip if positions else None
        size = self.ctx.settings.batch_size
        for start in range(0, len(positions), size):
            part = positions[start : start + size]
            embedded = clip.embed_preprocessed([batch[i].tensor for i in part])  # type: ignore[union-attr]
            for i, vector in zip(part, embedded, strict=True):
                vectors[i] = vector
                batch[i].tensor = None  # free memory early
        self.report.images_embedded += len(positions)
        return vectors

    def _count(self, batch: list[FileResult], known: dict[str, Known]) -> None:
        for result in batch:
            old = known.get(result.found.path)
            if result.action in ("skip", "gone"):
                self.report.skipped.append((result.found.path, result.reason or "skipped"))
                if result.action == "gone" and old is not None:
                    self.report.removed += 1
            elif result.action == "touch":
                self.report.unchanged += 1
            elif old is not None:
                self.report.updated += 1
            else:
                self.report.added += 1
            if result.action == "reuse":
                self.report.reused += 1

    # -- documents --------------------------------------------------------------------------------------------

    def _run_documents(self, documents: list[FoundFile], known: dict[str, Known], done: int, total: int) -> None:
        from .document_store import DocumentWriter

        if not documents:
            return
        writer = DocumentWriter(self.ctx, self.report, self.ctx.check_space_model, self._apply)
        settings = self.ctx.settings
        if self.engine == "ray":
            from . import ray_engine

            self.ctx.check_space_model(TEXT_SPACE, self.ctx.text_embedder.fingerprint)  # the writer records it
            ray = ray_engine.connect(self.ray_address)
            for result, processed in ray_engine.document_results(ray, documents, known, settings):
                if result.action == "gone":
                    self._document_gone(result, known.get(result.found.path))
                else:
                    writer.write(result, known.get(result.found.path), processed)
                done += 1
                self.progress(done, total, result.found.path)
            return
        for found in documents:
            result = document_job(found, old=known.get(found.path), max_bytes=self.ctx.settings.ingest.max_file_bytes)
            if result.action == "gone":
                self._document_gone(result, known.get(found.path))
            else:
                writer.write(result, known.get(found.path))
            done += 1
            self.progress(done, total, found.path)

    def _document_gone(self, result: FileResult, old: Known | None) -> None:
        """A document deleted after the scan listed it: drop what the catalog holds of it, record nothing."""
        if old is not None:
            changes = IndexChanges()
            with self.ctx.catalog.session() as session:
                remove_assets(session, self.ctx.catalog, [old.asset_id], changes)
            self._apply(changes)
            self.report.removed += 1
        self.report.skipped.append((result.found.path, result.reason or "file disappeared"))

    # -- shared -----------------------------------------------------------------------------------------------

    def _apply(self, changes: IndexChanges) -> None:
        """Mirror a committed transaction into the indexes; saved periodically, and at the end of the run."""
        for space in (IMAGE_SPACE, TEXT_SPACE):
            if changes.remove[space]:
                self.sink.remove(space, changes.remove[space])
            if changes.add_ids[space]:
                ids = np.asarray(changes.add_ids[space], dtype=np.int64)
                matrix = np.concatenate(changes.add_vectors[space])
                self.sink.add(space, ids, matrix)
        if time.monotonic() - self._last_save > self.ctx.settings.ingest.save_index_every_s:
            self._save_indexes()
            self._last_save = time.monotonic()

    def _save_indexes(self) -> None:
        """Save the indexes; a write failure (disk full) stops the run with what it means for the data."""
        from ..errors import LibraryError

        try:
            self.sink.save()
        except OSError as exc:
            raise LibraryError(
                f"cannot save the vector indexes: {exc.strerror or exc}. Everything ingested so far is safe "
                "in the catalog; free space and run `mmrag ingest` again (or `mmrag rebuild`)"
            ) from exc


def _like_prefix(root: str) -> str:
    """A LIKE pattern for everything under ``root`` (its own % and _ taken literally)."""
    escaped = root.rstrip("/").replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "/%"
