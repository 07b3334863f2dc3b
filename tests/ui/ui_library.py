"""The small library the UI tests run on: photos (+ a byte-identical copy of coffee.jpg and a broken JPEG) and
two Markdown documents, ingested with the tiny CLIP model."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import mmrag.ui

APP = Path(mmrag.ui.__file__).resolve().parent / "app.py"


CATS = """# Cats

Cats are small carnivorous mammals kept as pets. A domestic cat sleeps between twelve and sixteen hours a
day, mostly during daylight.

## Feeding

An adult cat needs about two hundred kilocalories per day. Fresh water must always be available.
"""

ROCKETS = """# Rockets

A rocket carries its own oxidiser, so it can fly in the vacuum of space. The first liquid-fuelled rocket was
launched by Robert Goddard in 1926.

## Stages

Multi-stage rockets drop empty tanks on the way up, which lets the remaining stages reach orbital speed.
"""


def write_documents(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cats.md").write_text(CATS, encoding="utf-8")
    (folder / "rockets.md").write_text(ROCKETS, encoding="utf-8")
    return folder


def build_library(root: Path, sample_photos: Path, clip: Any) -> Path:
    """Photos (+ a byte-identical copy of coffee.jpg and a broken JPEG), two Markdown documents, ingested."""
    from mmrag import Library

    source = root / "source"
    shutil.copytree(sample_photos, source / "photos")
    shutil.copy(source / "photos" / "coffee.jpg", source / "photos" / "coffee-copy.jpg")
    (source / "photos" / "broken.jpg").write_bytes((source / "photos" / "coffee.jpg").read_bytes()[:100])
    write_documents(source / "docs")
    lib = Library(root / "library", clip_model="tiny-test", device="cpu", clip=clip)  # the session's tiny CLIP
    try:
        lib.ingest([source])
    finally:
        lib.close()
    return root / "library"
