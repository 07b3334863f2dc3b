"""Walk folders: include/exclude globs, hidden files off by default, symlink loops safe."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from ..settings import IngestSettings

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".heic", ".heif", ".avif", ".ppm",
     ".pgm", ".pbm", ".tga", ".ico", ".jp2", ".psd"}
)
DOCUMENT_EXTENSIONS = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf"})


@dataclass(frozen=True)
class FoundFile:
    path: str  # absolute, as a posix string (the catalog key)
    size: int
    mtime: float
    kind: str  # "image" | "document" | "unknown"
    error: str | None = None  # set when the file could not even be stat'ed or opened


def classify(path: str) -> str:
    suffix = os.path.splitext(path)[1].lower()
    if suffix in IMAGE_EXTENSIONS:
        return "image"
    if suffix in DOCUMENT_EXTENSIONS:
        return "document"
    return "unknown"


def scan(roots: Iterable[str | Path], settings: IngestSettings) -> Iterator[FoundFile]:
    """Yield every candidate file under ``roots`` once (a root may also be a single file)."""
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    for root in roots:
        root_path = Path(os.path.expanduser(str(root))).absolute()
        if not root_path.exists():
            raise FileNotFoundError(f"ingest path {str(root)!r} does not exist")
        if root_path.is_file():
            found = _found(root_path.as_posix())
            if found is not None and found.path not in seen_files:
                seen_files.add(found.path)
                yield found
            continue
        for found in _walk(root_path, settings, seen_dirs):
            if found.path not in seen_files:
                seen_files.add(found.path)
                yield found


def _walk(root: Path, settings: IngestSettings, seen_dirs: set[tuple[int, int]]) -> Iterator[FoundFile]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=settings.follow_symlinks, onerror=None):
        try:
            info = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:  # symlink loop or a folder reached twice
            dirnames[:] = []
            continue
        seen_dirs.add(key)
        rel_dir = os.path.relpath(dirpath, root)
        dirnames[:] = sorted(d for d in dirnames if _keep(os.path.join(rel_dir, d), d, settings, is_dir=True))
        for name in sorted(filenames):
            if _keep(os.path.normpath(os.path.join(rel_dir, name)), name, settings, is_dir=False):
                found = _found(Path(dirpath, name).as_posix())
                if found is not None:
                    yield found


def _keep(rel_path: str, name: str, settings: IngestSettings, *, is_dir: bool) -> bool:
    rel = rel_path.replace(os.sep, "/").removeprefix("./")
    if not settings.hidden and name.startswith("."):
        return False
    if any(fnmatch(rel, pattern) or fnmatch(name, pattern) for pattern in settings.exclude):
        return False
    if is_dir or not settings.include:
        return True
    return any(fnmatch(rel, pattern) or fnmatch(name, pattern) for pattern in settings.include)


def _found(path: str) -> FoundFile | None:
    """What the catalog records for one directory entry; None when it vanished while the folder was read."""
    kind = classify(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if not os.path.lexists(path):
            return None  # deleted between listing and stat: nothing to record
        return _unreadable(path, kind, "cannot read file: broken symbolic link (its target does not exist)")
    except OSError as exc:
        return _unreadable(path, kind, f"cannot read file: {exc.strerror or exc}")
    if not _utf8(path):
        return _unreadable(path, kind, "file name is not valid UTF-8 (the catalog stores names as UTF-8); "
                                       "rename the file to ingest it", info.st_mtime)
    if not stat.S_ISREG(info.st_mode):
        return FoundFile(path, 0, info.st_mtime, kind, "not a regular file")
    return FoundFile(path, info.st_size, info.st_mtime, kind)


def _utf8(path: str) -> bool:
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes in the name, kept by Python as lone surrogates
        return False
    return True


def _unreadable(path: str, kind: str, reason: str, mtime: float = 0.0) -> FoundFile:
    """A file recorded as skipped. A name that is not UTF-8 is recorded under a printable form of it
    (undecodable bytes as ``\\xNN``): the catalog (SQLite or PostgreSQL text) cannot hold the raw name."""
    if not _utf8(path):
        path = display_path(path)
    return FoundFile(path, 0, mtime, kind, reason)


def display_path(path: str) -> str:
    """``path`` with undecodable bytes written as ``\\xNN`` (valid UTF-8, shown to the user)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")
