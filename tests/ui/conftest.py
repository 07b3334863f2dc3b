"""Fixtures for the UI tests: one small library built with the tiny CLIP model (see ``ui_library.py``) and a
private cache for the tiny generation models."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_library import build_library


@pytest.fixture(scope="session", autouse=True)
def tiny_generation_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The tiny-test diffusers models are built once per session into a private folder (also used by the
    server the browser test starts)."""
    root = tmp_path_factory.mktemp("mmrag-cache")
    previous = os.environ.get("MMRAG_CACHE_DIR")
    os.environ["MMRAG_CACHE_DIR"] = str(root)
    yield root
    if previous is None:
        os.environ.pop("MMRAG_CACHE_DIR", None)
    else:
        os.environ["MMRAG_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def ui_library(tmp_path_factory: pytest.TempPathFactory, sample_photos: Path, tiny_clip: Any) -> Path:
    """A library folder shared by the UI tests (they add feedback and generated images, nothing else)."""
    return build_library(tmp_path_factory.mktemp("ui"), sample_photos, tiny_clip)
