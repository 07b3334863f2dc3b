"""An answerer around any llama-index LLM, passed explicitly (llama-index's global Settings is never used)."""

from __future__ import annotations

from typing import Any

from ...errors import AnswerError
from ..answer import Answer, citations_for
from ..hits import Hit
from .base import SYSTEM_PROMPT, no_answer, says_unanswered, user_prompt


class LlamaIndexAnswerer:
    """Prompt = numbered sources + question; the reply's [n] markers become the citations."""

    def __init__(self, llm: Any, name: str = "llm", *, where: str = "") -> None:
        self.llm = llm
        self.name = name
        self.where = where  # for error messages: the endpoint or the model file

    def answer(self, question: str, passages: list[Hit]) -> Answer:
        if not passages:
            return no_answer(question, self.name)
        text = self.generate(SYSTEM_PROMPT, user_prompt(question, passages)).strip()
        citations = citations_for(text, passages)
        return Answer(text=text, citations=citations, question=question, llm=self.name,
                      answered=not says_unanswered(text, len(citations)))

    def generate(self, system: str, user: str) -> str:
        from llama_index.core.llms import ChatMessage, MessageRole

        try:
            if getattr(self.llm.metadata, "is_chat_model", False):
                messages = [ChatMessage(role=MessageRole.SYSTEM, content=system),
                            ChatMessage(role=MessageRole.USER, content=user)]
                return str(self.llm.chat(messages).message.content or "")
            return str(self.llm.complete(f"{system}\n\n{user}").text or "")
        except Exception as exc:  # network errors, HTTP errors, model errors: one clear failure
            where = f" at {self.where}" if self.where else ""
            raise AnswerError(f"the {self.name} model{where} failed: {type(exc).__name__}: {exc}") from exc
