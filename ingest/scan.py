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
            if found.path not in seen_files:
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
                yield _found(Path(dirpath, name).as_posix())


def _keep(rel_path: str, name: str, settings: IngestSettings, *, is_dir: bool) -> bool:
    rel = rel_path.replace(os.sep, "/").removeprefix("./")
    if not settings.hidden and name.startswith("."):
        return False
    if any(fnmatch(rel, pattern) or fnmatch(name, pattern) for pattern in settings.exclude):
        return False
    if is_dir or not settings.include:
        return True
    return any(fnmatch(rel, pattern) or fnmatch(name, pattern) for pattern in settings.include)


def _found(path: str) -> FoundFile:
    kind = classify(path)
    try:
        info = os.stat(path)
    except OSError as exc:
        return FoundFile(path, 0, 0.0, kind, f"cannot read file: {exc.strerror or exc}")
    if not stat.S_ISREG(info.st_mode):
        return FoundFile(path, 0, info.st_mtime, kind, "not a regular file")
    return FoundFile(path, info.st_size, info.st_mtime, kind)
