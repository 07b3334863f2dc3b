"""Protocols and shared types of the ingest stage (the bottom of the data path)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


@runtime_checkable
class ImageTextEmbedder(Protocol):
    """A joint image/text model (CLIP): both sides land in one space, L2-normalised float32."""

    name: str
    dim: int

    @property
    def fingerprint(self) -> str:
        """Identifies the weights; vectors from different fingerprints are never mixed in one index."""

    def preprocess(self, image: Image.Image) -> object:
        """Turn a decoded RGB image into the model's input tensor (runs in decode workers)."""

    def embed_preprocessed(self, batch: Sequence[object]) -> np.ndarray:
        """Embed a batch of ``preprocess`` outputs."""

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class TextEmbedder(Protocol):
    """A text-only model for document chunks (sentence-transformers)."""

    name: str
    dim: int
    max_seq_length: int

    @property
    def fingerprint(self) -> str: ...

    def embed_texts(self, texts: Sequence[str], *, is_query: bool = False) -> np.ndarray: ...


Model = TypeVar("Model")


class LoadedOnce(Generic[Model]):
    """A model built on its first use, once, even when several threads ask at the same time (the torch side of
    the ONNX text runtimes: loaded only when something needs it)."""

    def __init__(self, load: Callable[[], Model]) -> None:
        self._load = load
        self._model: Model | None = None
        self._lock = threading.Lock()

    @property
    def loaded(self) -> Model | None:
        """The model when it has been built, else None (never builds it)."""
        return self._model

    def get(self) -> Model:
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model
