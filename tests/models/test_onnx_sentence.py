"""The sentence-transformers text model in ONNX Runtime: export checked against torch, the reader without torch,
the runtime choice, layouts and exports that are not used."""

from __future__ import annotations

import copy
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmrag.models import onnx_sentence as ox
from mmrag.models.sentence import SentenceEmbedder
from mmrag.models.sentence_runtime import SHORT_CALL, OnnxQuestionText, cache_folder, load_text_model, write_export

TEXTS = ["a", "How do I install a package?", "What is the difference between a list and a vector in R?",
         "  leading and trailing spaces\t", "Warum gibt es keine Ergebnisse? café crème brûlée 東京タワー",
         "UPPER lower MiXeD 12345 3.14 & <b>bold</b>", " ".join(["truncated"] * 400)]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, text_embedder: SentenceEmbedder) -> tuple[Path, Path]:
    """(library, cache): the export written the real way, by the first question encoded on torch."""
    library, cache = tmp_path_factory.mktemp("onnx-text-library"), tmp_path_factory.mktemp("onnx-cache")
    text_embedder.export_library, text_embedder.export_cache = library, cache
    try:
        text_embedder.embed_texts(["how do I read a csv file"], is_query=True)
        assert text_embedder.question_encoder is not None, "from then on, its questions go through the export"
    finally:  # the session's torch model again (the reference the tests compare with)
        text_embedder.export_library = text_embedder.export_cache = text_embedder.question_encoder = None
    return library, cache


def test_the_first_question_writes_a_checked_export_into_the_library_and_the_cache(exported, text_embedder) -> None:
    library, cache = exported
    meta = ox.usable_sentence_export(library, text_embedder.fingerprint)
    assert meta is not None and meta.min_cosine >= 0.9999
    assert (meta.dim, meta.max_seq_length, meta.pooling) == (384, 256, "mean")
    folder = ox.sentence_export_folder(library, text_embedder.fingerprint)
    assert folder.parent == library / "models" and folder.name.startswith("text-")
    assert (folder / ox.WEIGHTS_FILE).stat().st_size > 20 * (folder / ox.MODEL_FILE).stat().st_size
    import onnx

    graph = onnx.load(str(folder / ox.MODEL_FILE), load_external_data=False)
    assert {"LayerNormalization", "FusedMatMul"} <= {node.op_type for node in graph.graph.node}, "saved optimised"
    assert ox.read_sentence_meta(cache_folder(cache, text_embedder.fingerprint)) == meta
    assert write_export(text_embedder, library, cache) is None, "exported once per library"


def test_onnx_vectors_equal_torch_for_each_length_and_a_mixed_batch(exported, text_embedder) -> None:
    encoder = ox.load_onnx_sentence(exported[0], text_embedder.fingerprint)
    assert encoder is not None
    for is_query in (True, False):
        for text in TEXTS:
            ours = encoder.embed_texts([text], is_query=is_query)
            assert cosines(ours, text_embedder.embed_texts([text], is_query=is_query))[0] >= 0.9999, text
        batch = encoder.embed_texts(TEXTS, is_query=is_query)
        assert cosines(batch, text_embedder.embed_texts(TEXTS, is_query=is_query)).min() >= 0.9999
        assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5) and batch.dtype == np.float32
    assert encoder.embed_texts([]).shape == (0, 384)


def test_the_tokenizer_gives_the_models_own_ids(exported, text_embedder) -> None:
    encoder = ox.load_onnx_sentence(exported[0], text_embedder.fingerprint)
    for text in [*TEXTS, "", "naïve résumé — “quotes” ½ 😀", "don't won't y'all", "x" * 3000]:
        assert encoder.tokenize(text) == text_embedder.tokenize(text), text
    assert len(encoder.tokenize(TEXTS[-1])) == 400 * len(text_embedder.tokenize("truncated")), "not truncated"


def test_mean_and_cls_pooling() -> None:
    tokens = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    assert np.allclose(ox.pool(tokens, mask, "mean"), [[1, 2], [8, 9]])
    assert np.allclose(ox.pool(tokens, mask, "cls"), [[0, 1], [6, 7]])


def test_runtime_choice(exported, text_embedder) -> None:
    library, _ = exported
    for runtime in ("auto", "onnx"):
        model = load_text_model("all-MiniLM-L6-v2", "cpu", library=library, text_runtime=runtime)
        assert isinstance(model, OnnxQuestionText) and model.fingerprint == text_embedder.fingerprint
        assert model.max_seq_length == text_embedder.max_seq_length and model._torch.loaded is None
    with pytest.raises(ValueError, match="text_runtime must be one of auto, onnx, torch"):
        load_text_model("all-MiniLM-L6-v2", "cpu", library=library, text_runtime="tensorrt")


def test_questions_use_onnx_and_passage_batches_load_torch_once(exported, text_embedder) -> None:
    model = load_text_model("all-MiniLM-L6-v2", "cpu", library=exported[0])
    assert isinstance(model, OnnxQuestionText)
    model.embed_texts(TEXTS[:3], is_query=True)
    model.embed_texts(TEXTS[:3])
    assert model._torch.loaded is None, "questions and short calls stay on ONNX"
    passages = [f"passage {i} about {TEXTS[i % len(TEXTS)]}" for i in range(SHORT_CALL + 1)]
    vectors = model.embed_texts(passages)
    assert isinstance(model._torch.loaded, SentenceEmbedder) and model._torch.loaded.export_library is None
    assert cosines(vectors, text_embedder.embed_texts(passages)).min() >= 0.9999
    model.onnx = None  # torch loaded: it takes passage calls of every size (faster on batches), ONNX questions
    assert model.embed_texts(TEXTS[:2]).shape == (2, 384)


def test_torch_runtime_and_a_library_without_export(exported, tmp_path: Path, text_embedder) -> None:
    model = load_text_model("all-MiniLM-L6-v2", "cpu", library=exported[0], text_runtime="torch")
    assert isinstance(model, SentenceEmbedder) and model.export_library is None
    model = load_text_model("all-MiniLM-L6-v2", "cpu", library=tmp_path / "new", text_runtime="auto")
    assert isinstance(model, SentenceEmbedder) and model.export_library == tmp_path / "new"


def test_another_library_gets_the_cached_export_without_exporting(exported, tmp_path: Path, text_embedder) -> None:
    _, cache = exported
    model = load_text_model("all-MiniLM-L6-v2", "cpu", library=tmp_path / "second", cache_dir=cache)
    assert isinstance(model, OnnxQuestionText)
    assert ox.usable_sentence_export(tmp_path / "second", text_embedder.fingerprint) is not None


@pytest.mark.parametrize("change", [{"fingerprint": "sentence-transformers:all-MiniLM-L6-v2:0123456789ab"},
                                    {"min_cosine": 0.99}, {"format": 99}, {"pooling": "max"}])
def test_a_stale_or_inexact_export_is_not_used(exported, tmp_path: Path, text_embedder, change: dict) -> None:
    folder = ox.sentence_export_folder(tmp_path, text_embedder.fingerprint)
    shutil.copytree(ox.sentence_export_folder(exported[0], text_embedder.fingerprint), folder)
    meta = json.loads((folder / ox.META_FILE).read_text())
    (folder / ox.META_FILE).write_text(json.dumps({**meta, **change}))
    assert ox.usable_sentence_export(tmp_path, text_embedder.fingerprint) is None
    model = load_text_model("all-MiniLM-L6-v2", "cpu", library=tmp_path, text_runtime="onnx")
    assert isinstance(model, SentenceEmbedder)


def test_other_weights_do_not_find_this_export(exported, text_embedder) -> None:
    other = text_embedder.fingerprint[:-12] + "0" * 12
    assert ox.sentence_export_folder(exported[0], other) != ox.sentence_export_folder(exported[0],
                                                                                      text_embedder.fingerprint)
    assert ox.usable_sentence_export(exported[0], other) is None


def test_a_layout_the_reader_cannot_reproduce_stays_on_torch(tmp_path: Path, text_embedder, caplog) -> None:
    model = copy.deepcopy(text_embedder.model)
    model[1].pooling_mode = "max"
    embedder = SentenceEmbedder(model, text_embedder.resolved, "cpu")
    with caplog.at_level(logging.INFO, logger="mmrag.models.sentence_runtime"):
        assert write_export(embedder, tmp_path, None) is None
    assert "questions stay on torch" in caplog.text and "pooling 'max'" in caplog.text
    assert not (tmp_path / "models").exists()


def test_a_question_on_the_export_imports_neither_torch_nor_sentence_transformers(exported) -> None:
    code = (
        "import sys; from pathlib import Path; from mmrag.models.sentence_runtime import load_text_model\n"
        f"model = load_text_model('all-MiniLM-L6-v2', 'cpu', library=Path({str(exported[0])!r}))\n"
        "v = model.embed_texts(['how do I read a csv file'], is_query=True)\n"
        "print(type(model).__name__, v.shape, model.tokenize('a cat'),\n"
        "      sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split() == ["OnnxQuestionText", "(1,", "384)", "[1037,", "4937]", "[]"]
