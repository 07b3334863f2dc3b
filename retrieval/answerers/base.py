"""The Answerer seam, and the prompt every LLM answerer uses (numbered sources, cite by number)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..answer import Answer, source_label
from ..hits import Hit

NO_ANSWER = "No answer found in the library for this question."
MAX_PASSAGE_CHARS = 1500  # per source in a prompt: chunks are ~200 word pieces, this only guards odd ones

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources you are given. After each statement, cite the "
    "source(s) it comes from by number in square brackets, like [1] or [2][3]. Be concise. If the sources "
    "do not contain the answer, say that you don't know."
)


@runtime_checkable
class Answerer(Protocol):
    """Turns a question and retrieved passages (numbered from 1 in list order) into an Answer."""

    name: str

    def answer(self, question: str, passages: list[Hit]) -> Answer: ...


def format_sources(passages: list[Hit], max_chars: int = MAX_PASSAGE_CHARS) -> str:
    blocks = []
    for number, hit in enumerate(passages, start=1):
        text = " ".join((hit.extra.get("context") or hit.text or "").split())  # the whole section, if any
        if len(text) > max_chars:
            text = text[:max_chars].rsplit(" ", 1)[0] + " …"
        blocks.append(f"[{number}] ({source_label(hit.path, hit.page, hit.section)})\n{text}")
    return "\n\n".join(blocks)


def user_prompt(question: str, passages: list[Hit]) -> str:
    return f"Sources:\n\n{format_sources(passages)}\n\nQuestion: {question.strip()}\nAnswer (cite sources as [n]):"


_DONT_KNOW = ("don't know", "do not know", "cannot answer", "can't answer", "no answer", "not contain")


def says_unanswered(text: str, cited: int) -> bool:
    """An LLM reply without citations that says it does not know."""
    return not cited and any(phrase in text.lower() for phrase in _DONT_KNOW)


def no_answer(question: str, name: str) -> Answer:
    return Answer(text=NO_ANSWER, citations=[], question=question, llm=name, answered=False)
