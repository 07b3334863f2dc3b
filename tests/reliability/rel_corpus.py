"""Generated photo folders for the fault-injection trials, with a manifest of what the library must hold.

Good files are small JPEG/PNG pictures (64-128 px, smooth random colours, a few byte-identical copies);
broken files come with the reason fragment their skip record must carry. The manifest follows the folder
as the trials change it (files added, rewritten, deleted between runs).
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

FOLDERS = 20
BROKEN_KINDS = {
    "empty": "empty file",
    "truncated_jpeg": "truncated or corrupt",
    "truncated_png": "truncated or corrupt",
    "text_as_png": "not an image",
    "unknown_type": "unsupported file type",
}


@dataclass
class Manifest:
    """What the library must hold for ``root``: good paths (ok, exactly once) and broken ones (skipped)."""

    root: Path
    good: set[str] = field(default_factory=set)
    broken: dict[str, str] = field(default_factory=dict)  # path -> fragment of the skip reason
    serial: int = 0  # names of files added later stay unique

    @property
    def files(self) -> int:
        return len(self.good) + len(self.broken)


def picture(rng: np.random.Generator, fmt: str) -> bytes:
    """A small smooth random picture encoded as JPEG or PNG."""
    width, height = (int(v) for v in rng.integers(64, 129, 2))
    cells = (rng.random((4, 4, 3)) * 255).astype(np.uint8)
    image = Image.fromarray(cells).resize((width, height), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG" if fmt == "jpg" else "PNG", **({"quality": 80} if fmt == "jpg" else {}))
    return buffer.getvalue()


def broken_file(rng: np.random.Generator, kind: str) -> tuple[str, bytes]:
    """(extension, bytes) of a file that must be skipped with the reason BROKEN_KINDS[kind]."""
    if kind == "empty":
        return "jpg", b""
    if kind == "truncated_jpeg":
        data = picture(rng, "jpg")
        return "jpg", data[: len(data) // 2]
    if kind == "truncated_png":
        data = picture(rng, "png")
        return "png", data[: len(data) // 2]
    if kind == "text_as_png":
        return "png", b"this is a note, not a picture\n" * 3
    return "xyz", rng.integers(0, 256, 256, dtype=np.uint8).tobytes()


def make_corpus(root: Path, count: int, *, seed: int = 0, broken_every: int = 40, copy_every: int = 50) -> Manifest:
    """``count`` files under ``root``: mostly pictures, every ``broken_every``-th broken, some exact copies."""
    rng = np.random.default_rng(seed)
    manifest = Manifest(Path(root))
    for _ in range(count):
        add_file(manifest, rng, broken_every=broken_every, copy_every=copy_every)
    return manifest


def add_file(manifest: Manifest, rng: np.random.Generator, *, broken_every: int = 40, copy_every: int = 50) -> str:
    """Write one new file (picture, copy of a picture, or broken file) and record it; returns its path."""
    number = manifest.serial
    manifest.serial += 1
    folder = manifest.root / f"d{number % FOLDERS:02d}"
    folder.mkdir(parents=True, exist_ok=True)
    if broken_every and number % broken_every == broken_every - 1:
        kind = list(BROKEN_KINDS)[(number // broken_every) % len(BROKEN_KINDS)]
        ext, data = broken_file(rng, kind)
        path = _write(folder / f"b{number:06d}.{ext}", data)
        manifest.broken[path] = BROKEN_KINDS[kind]
        return path
    if copy_every and number % copy_every == copy_every - 1 and manifest.good:
        source = sorted(manifest.good)[int(rng.integers(len(manifest.good)))]
        path = _write(folder / f"c{number:06d}{Path(source).suffix}", Path(source).read_bytes())
    else:
        fmt = "png" if number % 3 == 0 else "jpg"
        path = _write(folder / f"p{number:06d}.{fmt}", picture(rng, fmt))
    manifest.good.add(path)
    return path


def mutate(manifest: Manifest, rng: np.random.Generator, changes: int) -> dict[str, int]:
    """Delete, rewrite (new content, same path) and add ``changes`` files each; keeps the manifest true."""
    good = sorted(manifest.good)
    picks = rng.choice(len(good), size=min(2 * changes, len(good)), replace=False)
    deleted, rewritten = [good[i] for i in picks[:changes]], [good[i] for i in picks[changes:]]
    for path in deleted:
        os.unlink(path)
        manifest.good.discard(path)
    for path in rewritten:
        data = picture(rng, "jpg" if path.endswith(".jpg") else "png")
        _write(Path(path), data)
        stat = os.stat(path)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a visible mtime change
    for _ in range(changes):
        add_file(manifest, rng)
    return {"deleted": len(deleted), "rewritten": len(rewritten), "added": changes}


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return path.as_posix()
