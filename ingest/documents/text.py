"""The shared result of every loader, and a builder that keeps the text tidy while offsets are recorded."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Segment:
    """A stretch of the document text with one page and one section (chunks never cross segments)."""

    start: int
    end: int
    page: int | None
    section: str | None


@dataclass
class FoundImage:
    """Image file bytes found in a document, at a character offset of its text."""

    data: bytes
    name: str
    offset: int


@dataclass
class LoadedDocument:
    """A document's extracted text, cut into page/section segments, plus the images it holds."""

    text: str
    title: str | None
    pages: int | None
    segments: list[Segment]
    images: list[FoundImage] = field(default_factory=list)


class TextBuilder:
    """Collects text pieces; spaces collapse across pieces, paragraphs are one blank line apart.

    ``start_segment`` opens a new segment at the current end of the text, so offsets stay exact.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._starts: list[tuple[int, int | None, str | None]] = []
        self.images: list[FoundImage] = []

    @property
    def length(self) -> int:
        return self._length

    def _last_char(self) -> str:
        return self._parts[-1][-1] if self._parts else "\n"

    def write(self, text: str) -> None:
        """Append inline text, collapsing runs of whitespace into one space."""
        words = text.split()
        if not words:
            if text and self._last_char() not in " \n":
                self._append(" ")
            return
        lead = " " if text[0].isspace() and self._last_char() not in " \n" else ""
        trail = " " if text[-1].isspace() else ""
        self._append(lead + " ".join(words) + trail)

    def write_verbatim(self, text: str) -> None:
        """Append text as it is (preformatted blocks, PDF pages), trimming trailing spaces on each line.

        Line breaks at either end of ``text`` are kept as a line break (one newline) or a paragraph break
        (a blank line), so consecutive pieces of one source join as they were written.
        """
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        raw = text.split("\n")
        lines = [line.rstrip() for line in raw[:-1]] + [raw[-1]]
        body = "\n".join(_squeeze_blank_lines(lines)).strip("\n")
        if not body.strip():
            self._break_for(text)
            return
        self._break_for(text[: len(text) - len(text.lstrip(" \t\n"))])
        self._append(body)
        self._break_for(text[len(text.rstrip(" \t\n")) :])

    def _break_for(self, whitespace: str) -> None:
        newlines = whitespace.count("\n")
        if newlines >= 2:
            self.paragraph()
        elif newlines == 1:
            self.newline()

    def newline(self) -> None:
        self._trim_trailing_spaces()
        if self._parts and self._last_char() != "\n":
            self._append("\n")

    def paragraph(self) -> None:
        """End the current block: the next text starts after one blank line."""
        self._trim_trailing_spaces()
        if not self._parts:
            return
        text_end = "".join(self._parts[-2:])[-2:]
        if text_end != "\n\n":
            self._append("\n" if text_end.endswith("\n") else "\n\n")

    def start_segment(self, page: int | None, section: str | None) -> None:
        self.paragraph()
        self._starts.append((self._length, page, section))

    def add_image(self, data: bytes, name: str, offset: int | None = None) -> None:
        """Record an image at ``offset`` (default: the current end of the text)."""
        self.images.append(FoundImage(data=data, name=name, offset=self._length if offset is None else offset))

    def build(self, title: str | None, pages: int | None) -> LoadedDocument:
        text = "".join(self._parts).rstrip()
        starts = self._starts if self._starts and self._starts[0][0] == 0 else [(0, None, None), *self._starts]
        segments = []
        for index, (start, page, section) in enumerate(starts):
            end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
            end = min(end, len(text))
            if end > start:
                segments.append(Segment(start, end, page, section))
        for image in self.images:
            image.offset = min(image.offset, max(len(text) - 1, 0))
        return LoadedDocument(text=text, title=title, pages=pages, segments=segments, images=self.images)

    def _append(self, piece: str) -> None:
        if not self._parts and piece.strip() == "":
            return
        self._parts.append(piece)
        self._length += len(piece)

    def _trim_trailing_spaces(self) -> None:
        while self._parts and self._parts[-1].endswith(" "):
            trimmed = self._parts[-1].rstrip(" ")
            self._length -= len(self._parts[-1]) - len(trimmed)
            if trimmed:
                self._parts[-1] = trimmed
            else:
                self._parts.pop()


def _squeeze_blank_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return out
