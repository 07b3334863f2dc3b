"""Scanned PDF pages: a page without a text layer is rendered (pypdfium2) and read by OCR.

The page's OCR text becomes its passage text (with its page number, and sections found from the outline as
for any page); the rendered page is kept as the page's image, so an answer citing that page returns it.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

    from ...models.ocr_base import OcrResult, TextBox

log = logging.getLogger(__name__)
# (page image, name for messages) -> the text read, or None when OCR failed; ``ingest.ocr.OcrStep`` is one.
PageReader = Callable[["Image.Image", str], "OcrResult | None"]
MIN_TEXT_CHARS = 16  # a page whose text layer has fewer non-space characters is taken for a scan
RENDER_DPI = 200
MAX_RENDER_SIDE = 2400  # pixels: very large pages are rendered at a lower resolution
PAGE_IMAGE_SIDE = 1400  # the page image kept for answers (JPEG)
PARAGRAPH_GAP = 1.8  # a vertical gap above this many line heights starts a new paragraph
HYPHENATED = re.compile(r"[^\W\d_]{2}-$")  # a line ending in a word cut by a hyphen ("rec-")


def needs_ocr(text: str) -> bool:
    return sum(not ch.isspace() for ch in text) < MIN_TEXT_CHARS


class PageRenderer:
    """Renders pages of one PDF (opened once, on the first page that needs it)."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name
        self._document: Any = None

    def render(self, index: int) -> Image.Image:
        import pypdfium2

        if self._document is None:
            self._document = pypdfium2.PdfDocument(self.data)
        page = self._document[index]
        width, height = page.get_size()  # points (1/72 inch)
        scale = min(RENDER_DPI / 72.0, MAX_RENDER_SIDE / max(width, height, 1.0))
        return page.render(scale=scale).to_pil().convert("RGB")

    def close(self) -> None:
        if self._document is not None:
            self._document.close()
            self._document = None


def read_page(renderer: PageRenderer, index: int, reader: PageReader) -> tuple[str, bytes | None]:
    """OCR text of page ``index`` (paragraphs separated by blank lines) and the page as JPEG bytes.

    A page that cannot be rendered or read gives ("", None): it loses its text, not the document."""
    name = f"{renderer.name} page {index + 1}"
    try:
        image = renderer.render(index)
    except Exception as exc:  # noqa: BLE001 - a damaged page loses its text only
        log.warning("%s: cannot render for OCR: %s", name, exc)
        return "", None
    result = reader(image, name)
    return (paragraphs(result) if result else ""), page_jpeg(image)


def paragraphs(result: OcrResult) -> str:
    """Lines in reading order as text: boxes on one row joined by a space ("2.6" + "Are there …"), a word
    hyphenated at a line end joined again ("rec-" + "ommended"), and a vertical gap larger than
    ``PARAGRAPH_GAP`` line heights starting a paragraph."""
    lines = list(result.lines)
    if not lines:
        return ""
    typical = statistics.median(_bottom(line) - _top(line) for line in lines) or 1
    parts = [lines[0].text]
    for previous, line in zip(lines, lines[1:], strict=False):
        gap = _top(line) - _bottom(previous)
        if _same_row(previous, line):
            parts.append(" " + line.text)
        elif gap > PARAGRAPH_GAP * typical:
            parts.append("\n\n" + line.text)
        elif HYPHENATED.search(parts[-1]) and line.text[:1].islower():
            parts[-1] = parts[-1][:-1]
            parts.append(line.text)
        else:
            parts.append("\n" + line.text)
    return "".join(parts)


def _top(line: TextBox) -> int:
    return min(y for _, y in line.box)


def _bottom(line: TextBox) -> int:
    return max(y for _, y in line.box)


def _same_row(previous: TextBox, line: TextBox) -> bool:
    """``line`` starts right of ``previous`` and its vertical middle lies within ``previous``'s height."""
    middle = (_top(line) + _bottom(line)) / 2
    return min(x for x, _ in line.box) >= max(x for x, _ in previous.box) - 2 and \
        _top(previous) <= middle <= _bottom(previous)


def page_jpeg(image: Image.Image) -> bytes:
    copy = image.copy()
    copy.thumbnail((PAGE_IMAGE_SIDE, PAGE_IMAGE_SIDE))
    buffer = io.BytesIO()
    copy.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()
