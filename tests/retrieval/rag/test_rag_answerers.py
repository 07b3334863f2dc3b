"""Answerers: citation parsing, the extractive answerer, the OpenAI-compatible client against a real local
HTTP server, the registry and the optional llama-cpp backend."""

from __future__ import annotations

import time
from typing import Any

import pytest

from mmrag.errors import AnswerError
from mmrag.retrieval.answer import Answer, Citation, citations_for, cited_numbers
from mmrag.retrieval.answerers.base import NO_ANSWER, Answerer
from mmrag.retrieval.answerers.extractive import ExtractiveAnswerer
from mmrag.retrieval.answerers.registry import ANSWERERS, make_answerer
from mmrag.retrieval.hits import Hit
from mmrag.settings import RagSettings

PASSAGES = [
    Hit(id=1, path="/docs/router.md", score=0.9, kind="document", chunk_id=10, page=None, section="Resetting",
        text="Resetting\n\nTo reset the router, hold the reset button on the back for ten seconds. "
             "The lights blink while it restarts."),
    Hit(id=2, path="/docs/manual.pdf", score=0.5, kind="document", chunk_id=20, page=4, section="Shipping",
        text="Orders ship within two business days. Refunds are paid within thirty days."),
]


def test_cited_numbers_in_order_of_first_use() -> None:
    assert cited_numbers("A [2]. B [1][2]. C [3, 4]. D [5-6].") == [2, 1, 3, 4, 5, 6]
    assert cited_numbers("no markers, [x] or [] here") == []


def test_citations_keep_only_existing_passages() -> None:
    citations = citations_for("Yes [2], also [7].", PASSAGES)
    assert [(c.number, c.chunk_id, c.page, c.section) for c in citations] == [(2, 20, 4, "Shipping")]
    assert citations[0].label == "manual.pdf, p. 4, § Shipping"


def test_answer_to_dict() -> None:
    answer = Answer("Hold it [1].", [Citation.from_hit(1, PASSAGES[0])], [], "q?", "hybrid", "extractive")
    data = answer.to_dict()
    assert data["citations"][0]["chunk_id"] == 10 and data["answered"] is True and data["mode"] == "hybrid"


def test_extractive_answers_from_the_best_sentence(text_embedder: Any) -> None:
    answerer = ExtractiveAnswerer(text_embedder, max_sentences=1)
    assert isinstance(answerer, Answerer)
    answer = answerer.answer("How do I reset the router?", PASSAGES)
    assert answer.answered
    assert answer.text.startswith("To reset the router, hold the reset button") and answer.text.endswith("[1]")
    assert [c.number for c in answer.citations] == [1]


def test_extractive_says_no_answer_when_retrieval_is_weak(text_embedder: Any) -> None:
    answer = ExtractiveAnswerer(text_embedder).answer("What is the capital of Mongolia?", PASSAGES)
    assert not answer.answered and answer.text == NO_ANSWER and answer.citations == []
    assert not ExtractiveAnswerer(text_embedder).answer("anything", []).answered


def test_openai_like_chat_prompt_has_numbered_sources(chat_server: Any) -> None:
    rag = RagSettings(base_url=chat_server.url, model="tiny-chat", api_key="k-123", max_tokens=77)
    answerer = make_answerer("openai-like", rag)
    answer = answerer.answer("How do I reset the router?", PASSAGES)
    assert answer.text == chat_server.reply and [c.chunk_id for c in answer.citations] == [10]
    (path, body), = chat_server.requests
    assert path == "/v1/chat/completions" and body["model"] == "tiny-chat" and body["max_tokens"] == 77
    prompt = body["messages"][-1]["content"]
    assert "[1] (router.md, § Resetting)" in prompt and "[2] (manual.pdf, p. 4, § Shipping)" in prompt
    assert "hold the reset button" in prompt and "Question: How do I reset the router?" in prompt
    assert "[1]" in body["messages"][0]["content"]  # the system prompt asks for numbered citations


def test_openai_like_completion_endpoint(chat_server: Any) -> None:
    chat_server.reply = "Refunds take thirty days [2]. Shipping is quick [2]."
    answerer = make_answerer("openai-like", RagSettings(), base_url=chat_server.url, model="m", chat=False)
    answer = answerer.answer("refund time?", PASSAGES)
    assert [c.number for c in answer.citations] == [2]
    (path, body), = chat_server.requests
    assert path == "/v1/completions" and "[2] (manual.pdf, p. 4, § Shipping)" in body["prompt"]


def test_openai_like_server_errors_become_answer_errors(chat_server: Any) -> None:
    chat_server.status = 500
    answerer = make_answerer("openai-like", RagSettings(base_url=chat_server.url, model="m"))
    with pytest.raises(AnswerError, match="openai-like model at http://127.0.0.1"):
        answerer.answer("q", PASSAGES)


def test_openai_like_unreachable_server_fails_fast() -> None:
    answerer = make_answerer("openai-like", RagSettings(base_url="http://127.0.0.1:9/v1", model="m"))
    started = time.perf_counter()
    with pytest.raises(AnswerError, match="Connection"):
        answerer.answer("q", PASSAGES)
    assert time.perf_counter() - started < 15


def test_openai_like_needs_url_and_model() -> None:
    with pytest.raises(ValueError, match="--base-url"):
        make_answerer("openai-like", RagSettings(model="m"))
    with pytest.raises(ValueError, match="--model"):
        make_answerer("openai-like", RagSettings(base_url="http://127.0.0.1:1/v1"))
    with pytest.raises(ValueError, match="http:// or https://"):
        make_answerer("openai-like", RagSettings(base_url="127.0.0.1:1", model="m"))


def test_registry_rejects_unknown_names_and_options(text_embedder: Any) -> None:
    with pytest.raises(ValueError, match="'gpt'.*extractive, openai-like, llama-cpp"):
        make_answerer("gpt", RagSettings())
    with pytest.raises(ValueError, match=r"\['temprature'\].*valid options"):
        make_answerer("extractive", RagSettings(), embedder=lambda: text_embedder, temprature=0.2)
    assert ANSWERERS == ("extractive", "openai-like", "llama-cpp")


def test_llama_cpp_missing_names_the_extra(tmp_path: Any) -> None:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        with pytest.raises(AnswerError, match=r"pip install 'mmrag\[llama-cpp\]'"):
            make_answerer("llama-cpp", RagSettings(model_path=str(tmp_path / "m.gguf")))
    else:
        from mmrag.errors import ModelNotFoundError

        with pytest.raises(ModelNotFoundError, match="does not exist"):
            make_answerer("llama-cpp", RagSettings(model_path=str(tmp_path / "m.gguf")))
