"""Embedding a long document's passages in committed batches (``catalog.drafts``), so a killed ingest resumes
with the batches it finished instead of embedding the whole document again."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...catalog.drafts import EmbeddingDrafts, draft_key
from ...models.base import TextEmbedder

# Documents up to this many passages embed in one call, as before (no draft writes); longer ones in batches of it.
DRAFT_BATCH = 256


def embed_passages(texts: Sequence[str], embedder: TextEmbedder, drafts: EmbeddingDrafts | None,
                   batch: int | None = None) -> np.ndarray:
    """The passages' vectors, in order; with ``drafts``, a long document's finished batches are reused and each
    new batch (``DRAFT_BATCH`` passages unless given) is committed as soon as it is embedded."""
    batch = batch or DRAFT_BATCH
    if drafts is None or len(texts) <= batch:
        return embedder.embed_texts(texts)
    keys = [draft_key(embedder.fingerprint, text) for text in texts]
    found = drafts.load(keys, embedder.dim)
    vectors = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    missing = []
    for row, key in enumerate(keys):
        if key in found:
            vectors[row] = found[key]
        else:
            missing.append(row)
    for start in range(0, len(missing), batch):
        rows = missing[start:start + batch]
        embedded = embedder.embed_texts([texts[row] for row in rows])
        vectors[rows] = embedded
        drafts.save([keys[row] for row in rows], embedded)
    return vectors
