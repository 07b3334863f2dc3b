"""Embedding drafts: a long document's passage vectors committed batch by batch while it is embedded.

A 4 MiB text file is about 4,000 passages, minutes of text-model time on a CPU; a kill in the middle used to throw
all of it away. Drafts are keyed by the text model and the passage text, so a resumed ingest finds the finished
batches whatever the chunking run that made them, and a changed model never reuses another model's vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .db import Catalog
from .models import EmbeddingDraft


def draft_key(fingerprint: str, text: str) -> str:
    return hashlib.sha256(f"{fingerprint}\0{text}".encode("utf-8", "surrogatepass")).hexdigest()


class EmbeddingDrafts:
    """The drafts of one document (``owner``: its path) in one catalog."""

    def __init__(self, catalog: Catalog, owner: str) -> None:
        self.catalog = catalog
        self.owner = owner

    def load(self, keys: Sequence[str], dim: int) -> dict[str, np.ndarray]:
        wanted = set(keys)
        with self.catalog.session() as session:
            rows = session.execute(select(EmbeddingDraft.key, EmbeddingDraft.data)
                                   .where(EmbeddingDraft.owner == self.owner)).all()
        found = {}
        for key, data in rows:
            vector = np.frombuffer(data, dtype=np.float32)
            if key in wanted and vector.shape == (dim,):
                found[key] = vector
        return found

    def save(self, keys: Sequence[str], vectors: np.ndarray) -> None:
        """Commit one batch (a key already there keeps its vector: same model, same text)."""
        with self.catalog.session() as session:
            seen = set(session.scalars(select(EmbeddingDraft.key).where(EmbeddingDraft.key.in_(list(keys)))))
            for key, vector in zip(keys, vectors, strict=True):
                if key not in seen:  # a passage repeated in one document has one draft
                    seen.add(key)
                    session.add(EmbeddingDraft(key=key, owner=self.owner,
                                               data=np.asarray(vector, np.float32).tobytes()))

    def clear(self, session: Session) -> None:
        """Drop this document's drafts inside the caller's transaction (the one that stores or skips it)."""
        session.execute(delete(EmbeddingDraft).where(EmbeddingDraft.owner == self.owner))
