"""Protocols and shared types of the ingest stage (the bottom of the data path)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

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
