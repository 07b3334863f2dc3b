"""PDF → text with pypdf: one segment per page (page numbers from 1), split further where an outline
(bookmark) title appears in the page's text, so chunks carry the section they belong to. Embedded images
come from ``page.images``."""

from __future__ import annotations

import io
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...errors import InputError
from .loaders import is_image
from .pdf_scan import PageReader, PageRenderer, needs_ocr, read_page
from .text import LoadedDocument, TextBuilder

log = logging.getLogger(__name__)
MIN_IMAGE_SIDE = 16  # smaller images are masks, bullets and rules, not pictures


@dataclass(frozen=True)
class OutlineEntry:
    title: str
    page: int  # 0-based


def load_pdf(path: Path, data: bytes, ocr: PageReader | None = None) -> LoadedDocument:
    """Text per page from the text layer; with ``ocr``, pages without one (scans) are rendered and read."""
    reader = _open(path, data)
    try:
        pages = list(reader.pages)
    except Exception as exc:  # pypdf raises many types for damaged page trees
        raise InputError(f"{path.name}: malformed PDF ({type(exc).__name__}: {exc})") from exc
    if not pages:
        raise InputError(f"{path.name}: PDF has no pages")
    outline = _outline(reader)
    builder = TextBuilder()
    section: str | None = None
    failures = 0
    renderer = PageRenderer(data, path.name)
    try:
        for number, page in enumerate(pages):
            try:
                text = page.extract_text() or ""
            except Exception as exc:  # a damaged content stream loses that page only
                log.warning("%s: page %d: text extraction failed: %s", path.name, number + 1, exc)
                failures += 1
                text = ""
            page_start = builder.length
            scan = read_page(renderer, number, ocr) if ocr is not None and needs_ocr(text) else None
            section = _write_page(builder, scan[0] if scan else text, number, section,
                                  [e for e in outline if e.page == number])
            if scan and scan[1]:  # the rendered page is the page's picture (cited answers show it)
                builder.add_image(scan[1], f"page{number + 1}-scan.jpg", offset=page_start)
            else:
                _add_images(builder, page, path.name, number, page_start)
    finally:
        renderer.close()
    if failures == len(pages):
        raise InputError(f"{path.name}: malformed PDF (no page could be read)")
    if not builder.length:
        hint = "OCR read no text in its pages" if ocr is not None else "it was loaded without OCR"
        raise InputError(f"{path.name}: no extractable text (a scanned PDF? {hint})")
    return builder.build(title=_title(reader), pages=len(pages))


def _open(path: Path, data: bytes) -> Any:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise InputError(f"{path.name}: not a PDF (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise InputError(f"{path.name}: encrypted PDF that needs a password")
        return reader
    except InputError:
        raise
    except FileNotDecryptedError as exc:
        raise InputError(f"{path.name}: encrypted PDF that needs a password") from exc
    except DependencyError as exc:
        raise InputError(f"{path.name}: encrypted PDF; decrypting it needs: {exc}") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise InputError(f"{path.name}: malformed PDF ({type(exc).__name__}: {exc})") from exc


def _write_page(
    builder: TextBuilder, text: str, number: int, section: str | None, entries: list[OutlineEntry]
) -> str | None:
    """Write one page, opening a segment at the page start and wherever an outline title is found.

    Returns the section in effect at the end of the page (it carries over to the next page)."""
    marks: list[tuple[int, str]] = []
    cursor = 0
    for entry in entries:
        found = _find_title(text, entry.title, cursor)
        if found is None and marks:
            continue
        marks.append((found or 0, entry.title))
        cursor = found or 0
    at_start = [title for offset, title in marks if offset == 0]
    builder.start_segment(page=number + 1, section=at_start[-1] if at_start else section)
    cursor = 0
    for offset, title in marks:
        if offset > 0:
            builder.write_verbatim(text[cursor:offset] + "\n\n")
            builder.start_segment(page=number + 1, section=title)
            cursor = offset
    builder.write_verbatim(text[cursor:])
    builder.paragraph()
    return marks[-1][1] if marks else section


def _find_title(text: str, title: str, start: int) -> int | None:
    """Offset of the start of the line where ``title`` begins at or after ``start``.

    Compared without case, with any run of whitespace (line breaks included: long titles wrap) as one space
    and typographic quotes as plain ones; failing that, without any whitespace: OCR of scanned pages runs
    words together ("2.6Arethere Unix-like binariesforR?")."""
    for space in (" ", ""):
        wanted = _fold_with_positions(" ".join(title.split()), space)[0]
        if not wanted:
            return None
        folded, positions = _fold_with_positions(text, space)
        at = folded.find(wanted, _folded_index(positions, start))
        if at >= 0:
            return text.rfind("\n", 0, positions[at]) + 1
    return None


def _fold_with_positions(text: str, space: str = " ") -> tuple[str, list[int]]:
    """``text`` folded (lower case, NFKC: OCR's full-width brackets, plain quotes), whitespace runs written as
    ``space``, and the original offset of every folded character."""
    chars: list[str] = []
    positions: list[int] = []
    for offset, ch in enumerate(text):
        if ch.isspace():
            if not space or (chars and chars[-1] == space):
                continue
            ch = space
        folded = unicodedata.normalize("NFKC", ch.translate(_QUOTES)).lower()
        chars.append(folded if len(folded) == 1 else ch)  # keep one folded character per original one
        positions.append(offset)
    return "".join(chars), positions


def _folded_index(positions: list[int], start: int) -> int:
    from bisect import bisect_left

    return bisect_left(positions, start)


_QUOTES = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"'})


def _outline(reader: Any) -> list[OutlineEntry]:
    entries: list[OutlineEntry] = []

    def visit(items: list[Any]) -> None:
        for item in items:
            if isinstance(item, list):
                visit(item)
                continue
            try:
                page = reader.get_destination_page_number(item)
            except Exception:  # broken destinations are ignored, not fatal
                continue
            title = " ".join(str(getattr(item, "title", "") or "").split())
            if title and page is not None and page >= 0:
                entries.append(OutlineEntry(title, page))

    try:
        visit(reader.outline)
    except Exception as exc:  # a damaged outline only costs the section names
        log.warning("PDF outline unreadable: %s", exc)
    return entries


def _add_images(builder: TextBuilder, page: Any, document: str, number: int, offset: int) -> None:
    try:
        images = list(page.images)
    except Exception as exc:  # unsupported filters or damaged image streams: skip this page's images
        log.warning("%s: page %d: images unreadable: %s", document, number + 1, exc)
        return
    for index, image in enumerate(images):
        try:
            data = image.data
            size = image.image.size if image.image is not None else (0, 0)
        except Exception as exc:  # decoding one image must not lose the document
            log.warning("%s: page %d: image %d unreadable: %s", document, number + 1, index, exc)
            continue
        if min(size) < MIN_IMAGE_SIDE or not is_image(data):
            continue
        builder.add_image(data, f"page{number + 1}-{index}-{Path(image.name).name}", offset=offset)


def _title(reader: Any) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # malformed metadata dictionaries are common and harmless
        return None
    return " ".join(str(title).split()) or None if title else None
