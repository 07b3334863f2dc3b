"""What a question gets back: an answer text with numbered citations [n] and related images.

Citation numbers are the positions (from 1) of the retrieved passages handed to the answerer; an
Answer lists only the citations its text actually uses.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import PurePath
from typing import Any

from .hits import Hit
from .plain_text import is_markdown, plain_text

NO_DOCUMENTS = "The library has no documents to answer from"
_MARKER = re.compile(r"\[(\d+(?:\s*[,;–-]\s*\d+)*)\]")


@dataclass
class Citation:
    """A passage an answer cites as ``[number]``."""

    number: int
    asset_id: int
    chunk_id: int | None
    path: str
    page: int | None
    section: str | None
    text: str
    score: float

    @classmethod
    def from_hit(cls, number: int, hit: Hit) -> Citation:
        """The passage's text as plain text: markdown markup removed, wrapped lines joined."""
        text = plain_text(hit.text or "", markdown=is_markdown(hit.path))
        return cls(number, hit.id, hit.chunk_id, hit.path, hit.page, hit.section, text, hit.score)

    @property
    def label(self) -> str:
        return source_label(self.path, self.page, self.section)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    text: str
    citations: list[Citation]
    images: list[Hit] = field(default_factory=list)
    question: str = ""
    mode: str = ""
    llm: str = ""
    answered: bool = True  # False: retrieval was too weak (or the model said it does not know)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "text": self.text,
            "answered": self.answered,
            "mode": self.mode,
            "llm": self.llm,
            "citations": [c.to_dict() for c in self.citations],
            "images": [image.to_dict() for image in self.images],
        }


def cited_numbers(text: str) -> list[int]:
    """Numbers cited as [1], [2, 3] or [4-5] in ``text``, in order of first appearance."""
    numbers: list[int] = []
    for match in _MARKER.finditer(text):
        for number in _expand(match.group(1)):
            if number not in numbers:
                numbers.append(number)
    return numbers


def _expand(group: str) -> list[int]:
    out: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group):
        bounds = [int(x) for x in re.split(r"\s*[–-]\s*", part) if x]
        if len(bounds) == 2 and 0 < bounds[1] - bounds[0] <= 20:
            out.extend(range(bounds[0], bounds[1] + 1))
        else:
            out.extend(bounds)
    return out


def citations_for(text: str, passages: list[Hit]) -> list[Citation]:
    """Citations for the [n] markers in ``text`` that refer to one of the passages (others are ignored)."""
    return [Citation.from_hit(n, passages[n - 1]) for n in cited_numbers(text) if 1 <= n <= len(passages)]


def number_by_first_use(text: str, passages: list[Hit]) -> tuple[str, list[Citation]]:
    """Renumber the [n] markers of ``text`` 1, 2, 3 … in the order they are first used (markers that refer
    to no passage are dropped), and the citations with them."""
    used = [n for n in cited_numbers(text) if 1 <= n <= len(passages)]
    new_number = {old: new for new, old in enumerate(used, 1)}

    def replace(match: re.Match[str]) -> str:  # a dropped marker takes the space before it along
        numbers = [new_number[n] for n in _expand(match.group(2)) if n in new_number]
        return f"{match.group(1)}[{', '.join(map(str, dict.fromkeys(numbers)))}]" if numbers else ""

    renumbered = re.sub(r"( ?)" + _MARKER.pattern, replace, text)
    return renumbered, [Citation.from_hit(new_number[old], passages[old - 1]) for old in used]


def source_label(path: str, page: int | None, section: str | None) -> str:
    """``R-FAQ.pdf, p. 12, §7.10 How do I …`` — how a source is named in prompts and listings."""
    parts = [PurePath(path).name]
    if page is not None:
        parts.append(f"p. {page}")
    if section:
        parts.append(f"§ {section}")
    return ", ".join(parts)
