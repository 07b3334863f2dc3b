"""Shared fixtures: offline environment, sample photos from scikit-image, tiny models loaded once."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
for _key in [k for k in os.environ if k.startswith("MMRAG_") and k != "MMRAG_TEST_POSTGRES_URL"]:
    del os.environ[_key]  # a developer's own settings must not leak into tests

import shutil  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

# Bundled with scikit-image (no download). "cat" is chelsea again, so it is left out.
pytest_plugins = ["pg"]  # catalog_url / postgres_url fixtures (tests/pg.py)

SAMPLE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "clock", "immunohistochemistry", "hubble_deep_field",
                 "colorwheel", "retina", "camera", "moon", "page", "coins", "horse", "text")
PNG_PHOTOS = frozenset({"horse", "retina", "text", "colorwheel", "page"})


def _sample_image(name: str) -> Image.Image:
    from skimage import data

    array = getattr(data, name)()
    if array.dtype == bool:
        array = array.astype(np.uint8) * 255
    return Image.fromarray(np.asarray(array))


@pytest.fixture(scope="session")
def sample_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real photos (scikit-image's samples) as JPEG and PNG files; a read-only master copy."""
    folder = tmp_path_factory.mktemp("sample_photos")
    for name in SAMPLE_PHOTOS:
        image = _sample_image(name)
        if name in PNG_PHOTOS:
            image.save(folder / f"{name}.png")
        else:
            image.convert("RGB").save(folder / f"{name}.jpg", quality=90)
    return folder


@pytest.fixture
def photos(sample_photos: Path, tmp_path: Path) -> Path:
    """A fresh, writable copy of the sample photos for one test."""
    target = tmp_path / "photos"
    shutil.copytree(sample_photos, target)
    return target


@pytest.fixture(scope="session")
def tiny_clip() -> Any:
    from mmrag.ingest.embedders.clip import OpenClipEmbedder

    return OpenClipEmbedder.load("tiny-test", None, "cpu")


@pytest.fixture
def make_library(tmp_path: Path, tiny_clip: Any) -> Iterator[Callable[..., Any]]:
    """Open libraries on the tiny CLIP model (loaded once per session)."""
    from mmrag import Library

    opened: list[Any] = []

    def make(path: Path | None = None, **overrides: Any) -> Any:
        overrides.setdefault("clip_model", "tiny-test")
        overrides.setdefault("device", "cpu")
        lib = Library(path or tmp_path / "library", **overrides)
        if lib.settings.clip_model == "tiny-test":
            lib.__dict__["clip"] = tiny_clip  # cached_property slot
        opened.append(lib)
        return lib

    yield make
    for lib in opened:
        lib.close()
