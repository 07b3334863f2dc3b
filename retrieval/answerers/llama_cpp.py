"""Answers from a local GGUF model with llama-cpp-python (optional extra: ``pip install 'mmrag[llama-cpp]'``).

The model's own chat template (stored in the GGUF) formats the messages, so instruct models such as
Qwen2.5-0.5B-Instruct answer in their trained format. A loaded model is kept for the next question.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...errors import AnswerError, ModelNotFoundError
from ...settings import RagSettings
from ..answer import Answer, citations_for
from ..hits import Hit
from .base import SYSTEM_PROMPT, no_answer, says_unanswered, user_prompt

NAME = "llama-cpp"
INSTALL_HINT = "pip install 'mmrag[llama-cpp]'"


def require_llama_cpp() -> Any:
    try:
        import llama_cpp
    except ImportError as exc:
        raise AnswerError(
            f"the llama-cpp answerer needs llama-cpp-python, which is not installed: {INSTALL_HINT} "
            "(it builds from source, ~10 minutes on a small machine)"
        ) from exc
    return llama_cpp


@lru_cache(maxsize=1)
def load_llama(model_path: str, n_ctx: int, n_threads: int | None) -> Any:
    llama_cpp = require_llama_cpp()
    try:
        return llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelNotFoundError(f"could not load GGUF model {model_path!r}: {exc}") from exc


class LlamaCppAnswerer:
    name = NAME

    def __init__(self, rag: RagSettings, *, n_ctx: int = 4096, n_threads: int | None = None) -> None:
        require_llama_cpp()
        if not rag.model_path:
            raise ValueError("the llama-cpp answerer needs a GGUF file: --model-path FILE.gguf "
                             "(or MMRAG_RAG__MODEL_PATH); got none")
        path = Path(os.path.expanduser(rag.model_path))
        if not path.is_file():
            raise ModelNotFoundError(f"GGUF model file {str(path)!r} does not exist")
        self.model_path = str(path.resolve())
        self.rag = rag
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self.last_usage: dict[str, Any] = {}  # token counts of the last reply (prompt/completion)

    def answer(self, question: str, passages: list[Hit]) -> Answer:
        if not passages:
            return no_answer(question, self.name)
        llama = load_llama(self.model_path, self.n_ctx, self.n_threads)
        messages = [{"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": user_prompt(question, passages)}]
        try:
            reply = llama.create_chat_completion(
                messages=messages, max_tokens=self.rag.max_tokens, temperature=self.rag.temperature
            )
        except Exception as exc:  # context overflow, decoding errors: one clear failure
            raise AnswerError(f"llama-cpp model {self.model_path!r} failed: {type(exc).__name__}: {exc}") from exc
        text = str(reply["choices"][0]["message"]["content"] or "").strip()
        self.last_usage = dict(reply.get("usage") or {})
        citations = citations_for(text, passages)
        return Answer(text=text, citations=citations, question=question, llm=self.name,
                      answered=not says_unanswered(text, len(citations)))
