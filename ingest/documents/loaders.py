"""Read a document file into text + page/section segments + images.

Formats: plain text (.txt), Markdown (.md/.markdown, parsed with markdown-it-py), HTML (.html/.htm,
BeautifulSoup; headings start sections) and PDF (pypdf; pages kept, outline titles start sections). Text
encodings are detected (BOM, UTF-8, then charset-normalizer). A file that cannot be used raises
:class:`~mmrag.errors.InputError` with the reason; the ingest pipeline records it and skips the file.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from ...errors import InputError
from .text import LoadedDocument, TextBuilder

if TYPE_CHECKING:
    from .pdf_scan import PageReader

TEXT_EXTENSIONS = frozenset({".txt"})
MARKDOWN_EXTENSIONS = frozenset({".md", ".markdown"})
HTML_EXTENSIONS = frozenset({".html", ".htm"})
PDF_EXTENSIONS = frozenset({".pdf"})
DOCUMENT_EXTENSIONS = frozenset({".txt", ".md", ".markdown", ".html", ".htm", ".pdf"})
MAX_LINKED_IMAGE_BYTES = 64 * 1024 * 1024
WESTERN_ENCODINGS = ("cp1252", "latin_1", "iso8859_15")
NEAR_CHAOS = 0.1
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def load_document(path: Path, ocr: PageReader | None = None) -> LoadedDocument:
    """Extract a document's text and structure; raises InputError for empty, binary or unreadable files.

    ``ocr`` reads the pages of a PDF that have no text layer (scans); without it they have no text."""
    path = Path(path)
    loader = _loader_for(path, ocr)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not data.strip():
        raise InputError(f"{path.name}: empty file")
    document = loader(path, data)
    if not document.text.strip():
        raise InputError(f"{path.name}: no text content found")
    return document


def _loader_for(path: Path, ocr: PageReader | None = None) -> Callable[[Path, bytes], LoadedDocument]:
    suffix = path.suffix.lower()
    if suffix in TEXT_EXTENSIONS:
        return load_text
    if suffix in MARKDOWN_EXTENSIONS:
        return load_markdown
    if suffix in HTML_EXTENSIONS:
        from .html_loader import load_html

        return load_html
    if suffix in PDF_EXTENSIONS:
        from .pdf_loader import load_pdf

        return partial(load_pdf, ocr=ocr) if ocr is not None else load_pdf
    raise ValueError(f"unsupported document type {suffix!r} ({path}); supported: {sorted(DOCUMENT_EXTENSIONS)}")


def decode_text(data: bytes, name: str) -> str:
    """Bytes → str: a BOM wins, then strict UTF-8, then charset-normalizer; binary data raises InputError."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as exc:
                raise InputError(f"{name}: has a {encoding} byte-order mark but is not valid {encoding}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:65536]:
        raise InputError(f"{name}: binary content (NUL bytes), not text")
    from charset_normalizer import from_bytes

    matches = from_bytes(data)
    best = matches.best()
    if best is None:
        raise InputError(f"{name}: binary or undecodable content (no text encoding fits)")
    # Short Western texts fit several code pages almost equally well; charset-normalizer then often picks a
    # Baltic or Central European one. Prefer Windows-1252 / Latin-1 when they are nearly as good.
    for match in matches:
        if match.encoding in WESTERN_ENCODINGS and match.chaos <= best.chaos + NEAR_CHAOS:
            return str(match)
    return str(best)


def _check_text(text: str, name: str) -> str:
    """Reject decoded 'text' that is mostly control characters (binary data that happened to decode)."""
    sample = text[:65536]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    if "\x00" in sample or controls > max(8, len(sample) // 100):
        raise InputError(f"{name}: binary content, not text")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def load_text(path: Path, data: bytes) -> LoadedDocument:
    builder = TextBuilder()
    builder.write_verbatim(_check_text(decode_text(data, path.name), path.name))
    return builder.build(title=None, pages=None)


def load_markdown(path: Path, data: bytes) -> LoadedDocument:
    """Markdown keeps its source text; headings (ATX or setext) start sections; local images are read."""
    from markdown_it import MarkdownIt

    source = _check_text(decode_text(data, path.name), path.name)
    line_starts = [0]
    for line in source.split("\n"):
        line_starts.append(line_starts[-1] + len(line) + 1)
    tokens = MarkdownIt("commonmark").parse(source)
    builder = TextBuilder()
    title: str | None = None
    cursor = 0
    for index, token in enumerate(tokens):
        if token.level == 0 and token.nesting >= 0 and token.map:
            start = line_starts[token.map[0]]
            builder.write_verbatim(source[cursor:start])
            cursor = start
        if token.type == "heading_open":
            heading = tokens[index + 1].content.strip() if index + 1 < len(tokens) else ""
            builder.start_segment(page=None, section=heading or None)
            title = title or (heading if token.tag == "h1" else None)
        elif token.type == "inline" and token.children:
            for child in token.children:
                if child.type == "image":
                    _add_local_image(builder, path, str(child.attrGet("src") or ""))
    builder.write_verbatim(source[cursor:])
    return builder.build(title=title, pages=None)


def _add_local_image(builder: TextBuilder, document: Path, src: str) -> None:
    """Read an image a document links to, if it is a local file (remote URLs are ignored)."""
    data = read_local_image(document, src)
    if data is not None and not any(image.name == src for image in builder.images):
        builder.add_image(data, src)


def read_local_image(document: Path, src: str) -> bytes | None:
    from urllib.parse import unquote, urlparse

    src = src.strip()
    if not src or src.startswith(("data:", "//")):
        return None
    parsed = urlparse(src)
    if parsed.scheme and parsed.scheme != "file" and len(parsed.scheme) > 1:  # 1 letter: a Windows drive
        return None
    target = Path(unquote(parsed.path if parsed.scheme == "file" else src.split("#")[0].split("?")[0]))
    if not target.is_absolute():
        target = document.parent / target
    try:
        if not target.is_file() or target.stat().st_size > MAX_LINKED_IMAGE_BYTES:
            return None
        data = target.read_bytes()
    except OSError:
        return None
    return data if is_image(data) else None


def is_image(data: bytes) -> bool:
    """True when Pillow recognises the bytes as an image it can open."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
        return True
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return False
