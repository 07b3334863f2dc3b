"""Answers from any OpenAI-compatible server (vLLM, llama.cpp server, Ollama, LM Studio, TGI …) through
llama-index's ``OpenAILike`` client. base_url / model / api_key come from ``settings.rag``
(``MMRAG_RAG__BASE_URL``, ``MMRAG_RAG__MODEL``, ``MMRAG_RAG__API_KEY``) or the CLI flags."""

from __future__ import annotations

from typing import Any

from ...settings import RagSettings
from .llm import LlamaIndexAnswerer

NAME = "openai-like"
NO_KEY = "not-needed"  # local servers ignore the key, but the OpenAI client insists on one


def make_openai_like_llm(
    rag: RagSettings, *, chat: bool = True, timeout: float = 120.0, max_retries: int = 1, context_window: int = 8192
) -> Any:
    """An ``OpenAILike`` LLM configured from the RAG settings (nothing global is touched)."""
    from llama_index.llms.openai_like import OpenAILike

    if not rag.base_url:
        raise ValueError(
            "the openai-like answerer needs a server URL: --base-url http://127.0.0.1:8000/v1 "
            "(or MMRAG_RAG__BASE_URL); got none"
        )
    if not rag.base_url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {rag.base_url!r}")
    if not rag.model:
        raise ValueError("the openai-like answerer needs a model name: --model NAME (or MMRAG_RAG__MODEL); got none")
    return OpenAILike(
        model=rag.model,
        api_base=rag.base_url.rstrip("/"),
        api_key=rag.api_key or NO_KEY,
        is_chat_model=chat,
        max_tokens=rag.max_tokens,
        temperature=rag.temperature,
        timeout=timeout,
        max_retries=max_retries,
        context_window=context_window,
    )


class OpenAILikeAnswerer(LlamaIndexAnswerer):
    def __init__(self, rag: RagSettings, *, chat: bool = True, timeout: float = 120.0) -> None:
        super().__init__(make_openai_like_llm(rag, chat=chat, timeout=timeout), NAME, where=str(rag.base_url))
