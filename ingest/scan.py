"""Walk folders: include/exclude globs, hidden files off by default, symlink loops safe.

Every path is canonical (``os.path.realpath``: no ``..``, no symlinked folder in it), so one real file has
one catalog row whichever spelling reached it. A symbolic link whose target lies outside the ingested
roots is not followed unless ``ingest.follow_symlinks_outside`` is set: it is reported as skipped.
"""

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


def canonical(path: str | os.PathLike[str]) -> str:
    """The one spelling of a path the catalog uses: absolute, ``~`` expanded, ``..`` and symlinks resolved."""
    return Path(os.path.realpath(os.path.expanduser(str(path)))).as_posix()


def inside(path: str, roots: Iterable[str]) -> bool:
    """``path`` is one of ``roots`` or below one (all canonical)."""
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def scan(roots: Iterable[str | Path], settings: IngestSettings) -> Iterator[FoundFile]:
    """Yield every candidate file under ``roots`` once (a root may also be a single file)."""
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    given_roots = list(roots)
    root_list = [canonical(root) for root in given_roots]
    for given, root in zip(given_roots, root_list, strict=True):
        root_path = Path(root)
        if not root_path.exists():
            raise FileNotFoundError(f"ingest path {str(given)!r} does not exist")
        found_files = [_found(root)] if root_path.is_file() else _walk(root_path, settings, seen_dirs, root_list)
        for found in found_files:
            if found is not None and found.path not in seen_files:
                seen_files.add(found.path)
                yield found


def _walk(root: Path, settings: IngestSettings, seen_dirs: set[tuple[int, int]],
          roots: list[str]) -> Iterator[FoundFile]:
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
        real_dir = canonical(dirpath)
        rel_dir = os.path.relpath(dirpath, root)
        kept = sorted(d for d in dirnames if _keep(os.path.join(rel_dir, d), d, settings, is_dir=True))
        dirnames[:] = []
        for name in kept:
            escaped = _escaping_link(os.path.join(real_dir, name), roots, settings)
            if escaped is not None:
                yield escaped
            else:
                dirnames.append(name)
        for name in sorted(filenames):
            if _keep(os.path.normpath(os.path.join(rel_dir, name)), name, settings, is_dir=False):
                path = os.path.join(real_dir, name)
                escaped = _escaping_link(path, roots, settings)
                found = escaped or _found(_link_target(path) if os.path.islink(path) else Path(path).as_posix())
                if found is not None:
                    yield found


def _link_target(path: str) -> str:
    """A file symlink is recorded under its target's canonical path; a dangling one under its own (the
    reason, a broken link, belongs to it)."""
    target = canonical(path)
    return target if os.path.exists(target) else Path(path).as_posix()


def _escaping_link(path: str, roots: list[str], settings: IngestSettings) -> FoundFile | None:
    """A skipped record for a symbolic link whose target is outside ``roots`` (unless allowed), else None."""
    if settings.follow_symlinks_outside or not os.path.islink(path):
        return None
    target = canonical(path)
    if inside(target, roots) or not os.path.exists(target):
        return None  # inside: followed; dangling: _found reports it
    return _unreadable(Path(path).as_posix(), classify(path),
                       f"symbolic link to {display_path(target)}, outside the ingested folders: not followed "
                       "(set ingest.follow_symlinks_outside = true to follow such links)", 0.0)


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
