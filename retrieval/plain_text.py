"""Passage text as a reader sees it: markdown markup removed, lines of one paragraph joined.

Chunks keep their source text (markdown with ``#``, ``**``, links; PDF text hard-wrapped at the page's
width). Answers and snippets show prose instead: a sentence wrapped over two lines stays one sentence, a
word hyphenated at a line end is joined, and markdown headings, emphasis, links and code fences are reduced
to their text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

MARKDOWN_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
HEADING_CHARS = 60  # a short line without closing punctuation, followed by more text, is a heading
_SENTENCE_END = (".", "!", "?", ":", ";", '"', "'", ")", "”", "’")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•◦▪]\s+|\(?\d{1,3}[.)]\s+|\(?[a-z][.)]\s+)")
_HYPHENATED = re.compile(r"[A-Za-z]-$")
_ATX_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+")


@dataclass(frozen=True)
class Block:
    """One paragraph, list item, heading or code block, as plain text on one line."""

    text: str
    kind: str  # "paragraph", "heading" or "code"


def is_markdown(path: str | None) -> bool:
    return bool(path) and PurePath(str(path)).suffix.lower() in MARKDOWN_SUFFIXES


def blocks(text: str, *, markdown: bool) -> list[Block]:
    """The text's blocks in order; markdown is parsed, other text split at blank lines and headings."""
    found = _markdown_blocks(text) if markdown else _text_blocks(text)
    return [block for block in found if block.text]


def plain_text(text: str, *, markdown: bool) -> str:
    """The whole passage as plain text: one line per block (headings and code included)."""
    return "\n".join(block.text for block in blocks(text, markdown=markdown))


def join_lines(lines: list[str], *, dehyphenate: bool = False) -> str:
    """Lines of one paragraph as one line; breaks become spaces. ``dehyphenate`` (typeset text such as
    PDF): a word hyphenated at a line end is joined ("infor-" + "mation")."""
    joined = ""
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if dehyphenate and _HYPHENATED.search(joined) and line[:1].islower():
            joined = joined[:-1] + line
        else:
            joined = f"{joined} {line}" if joined else line
    return " ".join(joined.split())


def _text_blocks(text: str) -> list[Block]:
    out: list[Block] = []
    for paragraph in re.split(r"\n\s*\n", text):
        lines = [line for line in paragraph.split("\n") if line.strip()]
        current: list[str] = []
        for index, line in enumerate(lines):
            if _LIST_ITEM.match(line) and current:
                out.append(Block(join_lines(current, dehyphenate=True), "paragraph"))
                current = []
            following = lines[index + 1].strip() if index + 1 < len(lines) else ""
            if _ATX_HEADING.match(line):  # "## Title" in a text file or PDF: a heading, its marks dropped
                out.extend([Block(join_lines(current, dehyphenate=True), "paragraph")] if current else [])
                out.append(Block(join_lines([_ATX_HEADING.sub("", line)]), "heading"))
                current = []
                continue
            if not current and _looks_like_heading(line.strip(), following):
                out.append(Block(join_lines([line]), "heading"))
                continue
            current.append(line)
        if current:
            out.append(Block(join_lines(current, dehyphenate=True), "paragraph"))
    return out


def _looks_like_heading(line: str, following: str) -> bool:
    """A short line opening a paragraph, without closing punctuation, before a line that starts a sentence
    and is clearly longer (a wrapped sentence's first line is about as long as the next)."""
    if not following or len(line) > HEADING_CHARS or line.endswith(_SENTENCE_END) or _LIST_ITEM.match(line):
        return False
    starts_sentence = following[:1].isupper() or following[:1].isdigit()
    return starts_sentence and (len(line) <= 30 or len(line) < 0.75 * len(following))


def _markdown_blocks(text: str) -> list[Block]:
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(text)
    out: list[Block] = []
    heading = False
    for token in tokens:
        if token.type == "heading_open":
            heading = True
        elif token.type == "heading_close":
            heading = False
        elif token.type == "inline":
            out.append(Block(_inline_text(token.children or []), "heading" if heading else "paragraph"))
        elif token.type in ("fence", "code_block"):
            out.append(Block(" ".join(token.content.split()), "code"))
        elif token.type == "html_block":
            out.append(Block(_strip_tags(token.content), "paragraph"))
    return out


def _inline_text(children: list) -> str:  # type: ignore[type-arg]
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "image":
            parts.append(child.content)  # the alt text
        elif child.type == "html_inline":
            parts.append(_strip_tags(child.content))
    return join_lines("".join(parts).split("\n"))


def _strip_tags(html: str) -> str:
    return " ".join(re.sub(r"<[^>]*>", " ", html).split())
