"""The open_clip embedder: tiny-test determinism, preprocessing equivalence, fast failure on missing weights."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PIL import Image

from mmrag.errors import ModelNotFoundError
from mmrag.models.clip import OpenClipEmbedder, clip_fingerprint
from mmrag.models.registry import load_image_text_embedder
from mmrag.settings import Settings


def test_tiny_is_deterministic_and_normalised(tiny_clip) -> None:
    again = OpenClipEmbedder.load("tiny-test", None, "cpu")
    texts = ["a cat", "a red car"]
    a, b = tiny_clip.embed_texts(texts), again.embed_texts(texts)
    assert np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert tiny_clip.fingerprint == clip_fingerprint("tiny-test", "whatever") == "open_clip:tiny-test:seed0"


def test_fast_preprocess_matches_open_clip(tiny_clip) -> None:
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (150, 220, 3), dtype=np.uint8))
    ours = tiny_clip.preprocess(image)
    reference = tiny_clip._preprocess(image)
    assert ours.shape == reference.shape and float((ours - reference).abs().max()) < 1e-5


def test_image_and_text_batches(tiny_clip) -> None:
    images = [Image.new("RGB", (64, 48), colour) for colour in ("red", "blue", "white")]
    vectors = tiny_clip.embed_images(images)
    assert vectors.shape == (3, tiny_clip.dim) and vectors.dtype == np.float32
    assert tiny_clip.embed_images([]).shape == (0, tiny_clip.dim)


def test_missing_weights_fail_fast_with_the_ways_to_provide_them() -> None:
    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as info:
        OpenClipEmbedder.load("ViT-B-32", "laion2b_s34b_b79k", "cpu")
    assert time.perf_counter() - start < 30
    message = str(info.value)
    assert "ViT-B-32" in message and "local-dir:" in message and "--clip-pretrained" in message


def test_missing_weights_file() -> None:
    with pytest.raises(ModelNotFoundError, match="ViT-B-32"):
        OpenClipEmbedder.load("ViT-B-32", "/nonexistent/weights.safetensors", "cpu")


def test_saved_weights_load_back_through_a_file(tmp_path, tiny_clip) -> None:
    """The weights-file path users take with downloaded weights, exercised on the tiny architecture."""
    import torch

    path = tmp_path / "tiny.pt"
    torch.save(tiny_clip.model.state_dict(), path)
    loaded = OpenClipEmbedder.load("tiny-test", str(path), "cpu")
    assert loaded.fingerprint == f"open_clip:tiny-test:{path}"
    assert np.array_equal(loaded.embed_texts(["a boat"]), tiny_clip.embed_texts(["a boat"]))


def test_registry_rejects_unknown_backends(tmp_path) -> None:
    with pytest.raises(ValueError, match="available: \\['open_clip'\\]"):
        load_image_text_embedder(Settings(library=tmp_path), backend="nope")


def test_bad_device(tmp_path) -> None:
    with pytest.raises(ValueError, match="no CUDA device"):
        OpenClipEmbedder.load("tiny-test", None, "cuda")
