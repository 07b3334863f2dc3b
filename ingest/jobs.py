"""Per-file work done in decode workers: one read, sha256, and (only when needed) decode + preprocess."""

from __future__ import annotations

import os
import stat
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from ..catalog.features import ImageSignature
from ..errors import InputError, LibraryError
from .hashes import compute_signature
from .images import open_image, save_thumbnail, sha256_bytes, thumbnail_path
from .scan import FoundFile, canonical, inside


@dataclass
class Known:
    """What the catalog already holds for a path or a content hash."""

    asset_id: int
    sha256: str | None
    size: int
    mtime: float
    status: str
    kind: str
    has_vector: bool = False
    error: str | None = None  # the recorded reason of a skipped file


@dataclass
class ImageMeta:
    width: int
    height: int
    format: str | None
    phash: str | None
    taken_at: datetime | None
    signature: ImageSignature | None = None  # duplicate signature (stored in image_features)
    ocr: Any = None  # models.ocr_base.OcrResult when OCR ran (stored in ocr_texts)


class FileGone(InputError):
    """The file was listed but is gone when read: nothing to record (a known asset of it is removed)."""


@dataclass(frozen=True)
class ImageJobOptions:
    """The per-file limits of ``image_job`` for one run (the same on a local thread and a Ray worker)."""

    max_pixels: int
    max_bytes: int
    thumb_size: int
    draft_size: int


@dataclass
class FileResult:
    """Outcome of one file. ``action`` is one of: embed, reuse, touch, skip, gone, document."""

    found: FoundFile
    action: str
    sha256: str | None = None
    reason: str | None = None
    tensor: Any = None
    meta: ImageMeta | None = None
    reuse_from: int | None = None  # asset id whose vector (and metadata) is copied
    data: bytes | None = None  # document bytes are parsed in the main thread
    vector: Any = None  # the embedding, when it was computed where the file was decoded (a Ray worker)


# A read that makes no progress for this long is given up (a hung network share, a device that trickles).
READ_TIMEOUT_S = 60.0
READ_CHUNK = 1 << 20


def read_file(found: FoundFile, max_bytes: int, timeout_s: float = READ_TIMEOUT_S) -> bytes:
    """The file's bytes. The file is opened without blocking and checked *after* opening (fstat), so a
    file replaced by a FIFO, a device or a socket since the scan is refused instead of hanging the
    ingest; reads are time-boxed and never go past ``max_bytes``."""
    if found.size > max_bytes:
        raise InputError(f"{found.path}: file too large ({found.size:,} bytes, limit {max_bytes:,})")
    try:
        fd = os.open(found.path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise FileGone(f"{found.path}: file disappeared before it could be read") from None
    except OSError as exc:
        raise InputError(f"{found.path}: cannot read file ({exc.strerror or exc})") from None
    try:
        kind = os.fstat(fd).st_mode
        if not stat.S_ISREG(kind):
            raise InputError(f"{found.path}: not a regular file ({_file_type(kind)}); it changed since the scan")
        return _read_all(fd, found.path, max_bytes, time.monotonic() + timeout_s)
    except OSError as exc:
        raise InputError(f"{found.path}: cannot read file ({exc.strerror or exc})") from None
    finally:
        os.close(fd)


def _read_all(fd: int, path: str, max_bytes: int, deadline: float) -> bytes:
    parts, total = [], 0
    while chunk := os.read(fd, READ_CHUNK):
        parts.append(chunk)
        total += len(chunk)
        if total > max_bytes:
            raise InputError(f"{path}: file too large (more than {max_bytes:,} bytes; it grew since the scan)")
        if time.monotonic() > deadline:
            raise InputError(f"{path}: reading took too long (over {READ_TIMEOUT_S:.0f} s); is it on a slow share?")
    return b"".join(parts)


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "not a regular file"


def image_job(
    found: FoundFile,
    *,
    old: Known | None,
    by_sha: dict[str, int],
    library: Path,
    preprocess: Callable[[Any], Any],
    max_pixels: int,
    max_bytes: int,
    thumb_size: int,
    draft_size: int | None = None,
    read_text: Callable[[Any, str], Any] | None = None,
) -> FileResult:
    """Read, hash and, when the content is new, decode one image (runs in a worker thread).

    A problem with the file is its result (skip, with the reason); a failure to write the thumbnail into
    the library (disk full, permissions) is the library's problem and raises LibraryError, which stops
    the run: recording it as the file's fault would leave a good file skipped for good.
    """
    try:
        data = read_file(found, max_bytes)
        sha = sha256_bytes(data)
        if old is not None and old.sha256 == sha and old.status == "ok" and old.has_vector:
            return FileResult(found, "touch", sha)
        if sha in by_sha:
            return FileResult(found, "reuse", sha, reuse_from=by_sha[sha])
        decoded = open_image(data, found.path, max_pixels, draft_size)
        signature = compute_signature(decoded.rgb)
        meta = ImageMeta(
            decoded.width,
            decoded.height,
            decoded.format,
            signature.phashes[:8].hex(),
            decoded.taken_at or datetime.fromtimestamp(found.mtime, UTC),
            signature,
            ocr=read_text(decoded.rgb, found.path) if read_text is not None else None,
        )
        result = FileResult(found, "embed", sha, tensor=preprocess(decoded.rgb), meta=meta)
    except FileGone as exc:
        return FileResult(found, "gone", reason=_reason(exc, found.path))
    except InputError as exc:
        return FileResult(found, "skip", reason=_reason(exc, found.path))
    except Exception as exc:  # noqa: BLE001 - one broken file never stops an ingest
        return FileResult(found, "skip", reason=f"unexpected error: {type(exc).__name__}: {exc}")
    write_thumbnail(decoded.rgb, thumbnail_path(library, sha), thumb_size)
    return result


def image_job_for(found: FoundFile, *, known: Mapping[str, Known], **kwargs: Any) -> FileResult:
    """``image_job`` for a scanned file: a file the scan could not stat, and a file that is no image, are
    skipped with a reason a user can act on."""
    if found.error:
        return FileResult(found, "skip", reason=found.error)
    result = image_job(found, old=known.get(found.path), **kwargs)
    if found.kind == "unknown" and result.action == "skip" and (result.reason or "").startswith("not an image"):
        suffix = Path(found.path).suffix or "no extension"
        result.reason = f"unsupported file type ({suffix}): not an image or a supported document"
    return result


def write_thumbnail(image: Any, path: Path, size: int) -> None:
    try:
        save_thumbnail(image, path, size)
    except OSError as exc:
        raise LibraryError(f"cannot write thumbnail {path}: {exc.strerror or exc}") from exc


# Plain-text documents above this size are skipped: the document handler loads, tokenizes and embeds a
# whole document at once (measured: ~350 MB of memory and ~1 CPU-minute per MB of text on 2 cores), so a
# 50 MB log file would stall the run for an hour and take gigabytes. Split such files to ingest them.
MAX_TEXT_DOCUMENT_BYTES = 4 * 1024 * 1024
TEXT_DOCUMENT_SUFFIXES = frozenset({".txt", ".md", ".markdown", ".html", ".htm"})


def document_job(found: FoundFile, *, old: Known | None, max_bytes: int) -> FileResult:
    if found.error:
        return FileResult(found, "skip", reason=found.error)
    if Path(found.path).suffix.lower() in TEXT_DOCUMENT_SUFFIXES and found.size > MAX_TEXT_DOCUMENT_BYTES:
        return FileResult(found, "skip", reason=f"text document too large ({found.size:,} bytes, limit "
                                                f"{MAX_TEXT_DOCUMENT_BYTES:,}); split it into smaller files")
    try:
        data = read_file(found, max_bytes)
    except FileGone as exc:
        return FileResult(found, "gone", reason=_reason(exc, found.path))
    except InputError as exc:
        return FileResult(found, "skip", reason=_reason(exc, found.path))
    sha = sha256_bytes(data)
    if old is not None and old.sha256 == sha and old.status == "ok":
        return FileResult(found, "touch", sha)
    return FileResult(found, "document", sha, data=data)


def _reason(exc: Exception, path: str) -> str:
    return str(exc).removeprefix(f"{path}: ")


T = TypeVar("T")
R = TypeVar("R")


def ordered_map(executor: Executor | None, fn: Callable[[T], R], items: Iterable[T], window: int) -> Iterator[R]:
    """Like executor.map, but with at most ``window`` items in flight (bounded memory), in order."""
    if executor is None:
        yield from map(fn, items)
        return
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(executor.submit(fn, item))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def under_roots(path: str, roots: list[str]) -> bool:
    return inside(path, roots)


def posix_abs(path: str | os.PathLike[str]) -> str:
    """The canonical spelling of a path given by the user (see ``scan.canonical``)."""
    return canonical(path)
