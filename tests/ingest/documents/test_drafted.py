"""A long document's embedding batches survive an interrupted ingest (issue 17: a 4 MiB text file restarted
from zero after a kill)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from mmrag.catalog.db import Catalog
from mmrag.catalog.drafts import EmbeddingDrafts
from mmrag.catalog.models import EmbeddingDraft
from mmrag.ingest.documents import drafted
from mmrag.ingest.documents.drafted import embed_passages

SENTENCES = [f"Passage {n}: the router in room {n} blinks {n % 7} times before it resets." for n in range(40)]


class Counting:
    """The real text model, counting the passages it embeds and stopping the process (as a kill would: an
    exception no ingest handler catches) once ``stop_after`` calls have finished."""

    def __init__(self, model: Any, stop_after: int | None = None) -> None:
        self.model, self.stop_after = model, stop_after
        self.calls = self.embedded = 0
        self.name, self.dim, self.max_seq_length = model.name, model.dim, model.max_seq_length
        self.fingerprint = model.fingerprint
        self.tokenize = model.tokenize

    def embed_texts(self, texts: Any, *, is_query: bool = False) -> np.ndarray:
        if self.stop_after is not None and self.calls >= self.stop_after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        self.embedded += len(texts)
        return self.model.embed_texts(texts, is_query=is_query)


def _drafts(catalog: Catalog) -> int:
    with catalog.session() as session:
        return session.scalar(select(func.count()).select_from(EmbeddingDraft))


def test_interrupted_embedding_resumes_with_finished_batches(tmp_path: Path, text_embedder: Any) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    drafts = EmbeddingDrafts(catalog, "/docs/long.txt")
    with pytest.raises(KeyboardInterrupt):
        embed_passages(SENTENCES, Counting(text_embedder, stop_after=2), drafts, batch=8)
    assert _drafts(catalog) == 16
    resumed = Counting(text_embedder)
    vectors = embed_passages(SENTENCES, resumed, drafts, batch=8)
    assert resumed.embedded == len(SENTENCES) - 16
    np.testing.assert_allclose(vectors, text_embedder.embed_texts(SENTENCES), atol=1e-4)
    other = EmbeddingDrafts(catalog, "/docs/other.txt")  # drafts are the owner's alone
    assert other.load([], text_embedder.dim) == {}
    with catalog.session() as session:
        drafts.clear(session)
    assert _drafts(catalog) == 0
    catalog.dispose()


def test_short_documents_write_no_drafts(tmp_path: Path, text_embedder: Any) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    counted = Counting(text_embedder)
    embed_passages(SENTENCES[:8], counted, EmbeddingDrafts(catalog, "/docs/short.txt"), batch=8)
    assert counted.calls == 1 and _drafts(catalog) == 0
    catalog.dispose()


def test_killed_library_ingest_embeds_only_what_is_missing(tmp_path: Path, make_library: Any, text_embedder: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(drafted, "DRAFT_BATCH", 4)
    docs = tmp_path / "docs"
    docs.mkdir()
    colours = ("red", "green", "blue")
    lines = [f"Room {n} has a {colours[n % 3]} router that resets after {n} seconds." for n in range(150)]
    (docs / "long.txt").write_text("\n\n".join(lines), encoding="utf-8")
    killed = Counting(text_embedder, stop_after=2)
    lib = make_library(tmp_path / "lib", text_embedder=killed)
    with pytest.raises(KeyboardInterrupt):
        lib.ingest([docs])
    lib.close()
    resumed = Counting(text_embedder)
    lib = make_library(tmp_path / "lib", text_embedder=resumed)
    report = lib.ingest([docs])
    assert report.documents == 1 and report.chunks > 8
    assert resumed.embedded == report.chunks - 8  # the two finished batches of four were not embedded again
    assert _drafts(lib.components.catalog) == 0
    assert "12 seconds" in " ".join(c.text for c in lib.ask("Which router resets after 12 seconds?").citations)
