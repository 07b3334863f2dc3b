"""Fixtures for the UI tests: one small library built with the tiny CLIP model (see ``ui_library.py``) and a
private cache for the tiny generation models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ui_library import build_library


@pytest.fixture(scope="session")
def ui_library(tmp_path_factory: pytest.TempPathFactory, sample_photos: Path, tiny_clip: Any) -> Path:
    """A library folder shared by the UI tests (they add feedback and generated images, nothing else)."""
    return build_library(tmp_path_factory.mktemp("ui"), sample_photos, tiny_clip)
