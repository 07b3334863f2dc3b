"""Fixtures for generation tests: tiny diffusers models built here, saved, and loaded back like real ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and on a busy 2-core machine two threads run ~10× slower."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def pipeline_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny StableDiffusionPipeline built from configs by the test and written with save_pretrained."""
    from mmrag.generation.tiny import tiny_pipeline

    folder = tmp_path_factory.mktemp("tiny-sd")
    tiny_pipeline().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def controlnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mmrag.generation.tiny import tiny_controlnet

    folder = tmp_path_factory.mktemp("tiny-controlnet")
    tiny_controlnet().save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def generator(pipeline_dir: Path, controlnet_dir: Path) -> Any:
    """One loaded generator (pipeline + ControlNet from the saved folders) shared by the pipeline tests."""
    from mmrag.generation.diffusers_generator import DiffusersGenerator
    from mmrag.generation.request import GenerationRequest

    request = GenerationRequest("x", mode="controlnet", model=str(pipeline_dir), controlnet=str(controlnet_dir))
    return DiffusersGenerator.load(request.validate(), "cpu")


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((96, 64))  # not square: exercises the center crop


@pytest.fixture
def photo_files(tmp_path: Path) -> list[Path]:
    """Three real photos as files (scikit-image samples)."""
    from skimage import data

    folder = tmp_path / "photos"
    folder.mkdir()
    paths = []
    for name in ("astronaut", "chelsea", "coffee"):
        path = folder / f"{name}.jpg"
        Image.fromarray(np.asarray(getattr(data, name)())).convert("RGB").resize((96, 80)).save(path, quality=90)
        paths.append(path)
    return paths


@pytest.fixture
def lib(tmp_path: Path, tiny_clip: Any, photo_files: list[Path]) -> Iterator[Any]:
    """A library holding the three photos."""
    from mmrag import Library

    library = Library(tmp_path / "library", clip_model="tiny-test", device="cpu", clip=tiny_clip)
    library.ingest([photo_files[0].parent])
    yield library
    library.close()
