"""Which runtime encodes CLIP text queries: ONNX Runtime when the library has a checked export, else torch.

``text_runtime`` (a setting, ``MMRAG_TEXT_RUNTIME``):

- ``auto`` / ``onnx``: use the library's ONNX export of the text tower when it exists and matched torch
  (cos >= 0.9999); the torch model then loads only when an image is embedded, so a text search imports
  neither torch nor open_clip. Without an export, torch encodes and the first text query writes one
  (``onnx`` package needed; CPU only) — under ``auto`` only for towers of AUTO_EXPORT_MIN_PARAMS or more,
  where it pays for itself (a test-sized tower is encoded by torch in well under a millisecond).
- ``torch``: always the torch tower (on trimmed ids where that is exact).

Measured in docs/benchmarks.md ("Text encoding and cold start").
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import LoadedOnce
from .clip import clip_fingerprint

if TYPE_CHECKING:
    from PIL import Image

    from .clip import OpenClipEmbedder
    from .onnx_text import OnnxTextEncoder

TEXT_RUNTIMES = ("auto", "onnx", "torch")
AUTO_EXPORT_MIN_PARAMS = 20_000_000  # auto exports towers this large (ViT-B-32's has 63M; tiny-test's 3M)


def check_text_runtime(value: str) -> str:
    if value not in TEXT_RUNTIMES:
        raise ValueError(f"text_runtime must be one of {', '.join(TEXT_RUNTIMES)}; got {value!r}")
    return value


def query_threads(threads: int) -> int:
    """Threads of a query's ONNX Runtime session: ``threads``, or all cores for 0. Unlike an ingest batch (all
    cores but one: one decodes images), a query has nothing running beside it, and the session's idle threads
    sleep (``onnx_common.cpu_session``). `mmrag serve` at 1 M images, side by side: 1 client p50 37.7 / 38.8 ms
    with 2 threads, 42.2 / 38.8 ms with 1; 8 clients 25.2 / 38.4 against 19.7 / 33.6 q/s."""
    return threads or max(1, os.cpu_count() or 1)


class OnnxTextClip:
    """CLIP with its text side in ONNX Runtime; the torch model is built on the first image call."""

    def __init__(self, text: OnnxTextEncoder, load_torch: Callable[[], OpenClipEmbedder], name: str,
                 fingerprint: str) -> None:
        self.text = text
        self.name = name
        self.dim = text.dim
        self._fingerprint = fingerprint
        self._torch = LoadedOnce(load_torch)

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    @property
    def torch_model(self) -> OpenClipEmbedder:
        return self._torch.get()

    def preprocess(self, image: Image.Image) -> Any:
        return self.torch_model.preprocess(image)

    def embed_preprocessed(self, batch: Sequence[Any]) -> np.ndarray:
        return self.torch_model.embed_preprocessed(batch)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.torch_model.embed_images(images)

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        return self.text.embed_texts(texts)


def load_clip(name: str, pretrained: str | None, device: str = "auto", *, library: Path | None = None,
              text_runtime: str = "auto", threads: int = 0) -> OpenClipEmbedder | OnnxTextClip:
    """The CLIP embedder for a library, its text side on the runtime ``text_runtime`` asks for."""
    check_text_runtime(text_runtime)
    fingerprint = clip_fingerprint(name, pretrained)

    def load_torch() -> OpenClipEmbedder:
        from .clip import OpenClipEmbedder, configure_torch_threads

        configure_torch_threads(threads, device)
        return OpenClipEmbedder.load(name, pretrained, device)

    use_onnx = text_runtime != "torch" and library is not None
    if use_onnx and importlib.util.find_spec("onnxruntime") is not None:
        from .onnx_text import load_onnx_text

        encoder = load_onnx_text(library, fingerprint, pretrained, query_threads(threads))  # type: ignore[arg-type]
        if encoder is not None:
            return OnnxTextClip(encoder, load_torch, name, fingerprint)
    embedder = load_torch()
    if use_onnx and (text_runtime == "onnx" or _text_params(embedder) >= AUTO_EXPORT_MIN_PARAMS):
        embedder.export_library = library  # the first text query writes the export
    return embedder


def _text_params(embedder: OpenClipEmbedder) -> int:
    """Parameters outside the image tower: the text tower (and the logit scale)."""
    model = embedder.model
    visual = sum(p.numel() for p in model.visual.parameters()) if hasattr(model, "visual") else 0
    return sum(p.numel() for p in model.parameters()) - visual
