"""Checks on every output, with the library's CLIP model.

- ``clip_score``: CLIPScore as torchmetrics defines it, 100 × max(cosine(image, prompt), 0), so 0–100
  (about 20–35 for good SD 1.5 images with ViT-B/32; meaningless with the tiny-test CLIP).
- ``ref_similarity``: the plain mean cosine (−1…1) between the output and the references it was made from
  (None for an output without references).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from PIL import Image

    from ..models.base import ImageTextEmbedder


def clip_scores(output_vectors: np.ndarray, prompt_vector: np.ndarray) -> list[float]:
    cosines = np.asarray(output_vectors, dtype=np.float32) @ np.asarray(prompt_vector, dtype=np.float32).reshape(-1)
    return [round(float(max(c, 0.0) * 100.0), 4) for c in cosines]


def ref_similarities(output_vectors: np.ndarray, ref_vectors: Sequence[np.ndarray]) -> list[float | None]:
    """For output i, the mean cosine to the rows of ref_vectors[i] (a (k, dim) matrix, possibly empty)."""
    scores: list[float | None] = []
    for vector, refs in zip(output_vectors, ref_vectors, strict=True):
        refs = np.asarray(refs, dtype=np.float32).reshape(-1, len(vector))
        scores.append(round(float((refs @ vector).mean()), 6) if len(refs) else None)
    return scores


def embed(clip: ImageTextEmbedder, images: Sequence[Image.Image]) -> np.ndarray:
    return clip.embed_images(list(images)) if images else np.zeros((0, clip.dim), dtype=np.float32)
