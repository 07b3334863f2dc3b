"""Answers from a local GGUF model with llama-cpp-python (optional extra: ``pip install 'mmrag[llama-cpp]'``).

The model's own chat template (stored in the GGUF) formats the messages, so instruct models such as
Qwen2.5-0.5B-Instruct answer in their trained format. The loaded model is kept for the next question in the
library's ``KeptModel`` slot (``Components.answer_model``), never in a process-wide cache.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...errors import AnswerError, ModelNotFoundError
from ...settings import RagSettings
from ..answer import Answer, citations_for
from ..hits import Hit
from .base import SYSTEM_PROMPT, no_answer, says_unanswered, user_prompt

if TYPE_CHECKING:
    from ...components import KeptModel

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


def load_llama(model_path: str, n_ctx: int, n_threads: int | None) -> Any:
    llama_cpp = require_llama_cpp()
    try:
        return llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads, verbose=False)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ModelNotFoundError(f"could not load GGUF model {model_path!r}: {exc}") from exc


class LlamaCppAnswerer:
    name = NAME

    def __init__(self, rag: RagSettings, *, n_ctx: int = 4096, n_threads: int | None = None,
                 kept: KeptModel | None = None) -> None:
        """``kept``: where the loaded model stays between questions (the library's slot); without it each
        answerer loads its own."""
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
        self.kept = kept
        self._own: Any = None
        self.last_usage: dict[str, Any] = {}  # token counts of the last reply (prompt/completion)

    def model(self) -> Any:
        """The loaded GGUF model: from the library's slot when there is one, else this answerer's own."""
        if self.kept is not None:
            return self.kept.get((self.model_path, self.n_ctx, self.n_threads), self._load)
        if self._own is None:
            self._own = self._load()
        return self._own

    def _load(self) -> Any:
        return load_llama(self.model_path, self.n_ctx, self.n_threads)

    def answer(self, question: str, passages: list[Hit]) -> Answer:
        if not passages:
            return no_answer(question, self.name)
        llama = self.model()
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
