"""HTML → text with BeautifulSoup: block elements become paragraphs, headings (h1–h6) start sections,
``<pre>`` keeps its layout, ``<img src>`` pointing at local files are read. Scripts, styles, navigation and
tables of contents are dropped: they repeat other sections' words and would match the wrong passage."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ...errors import InputError
from .loaders import _add_local_image, decode_text
from .text import LoadedDocument, TextBuilder

HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
SKIP_TAGS = frozenset(
    {"script", "style", "noscript", "template", "nav", "svg", "iframe", "object", "embed", "button", "select",
     "head", "canvas", "audio", "video", "map"}
)
BLOCK_TAGS = frozenset(
    {"p", "div", "section", "article", "header", "footer", "main", "aside", "blockquote", "ul", "ol", "dl", "dt",
     "dd", "table", "thead", "tbody", "tfoot", "tr", "caption", "figure", "figcaption", "hr", "address", "details",
     "summary", "form", "fieldset", "center", "body", "html"}
)
LINE_TAGS = frozenset({"li", "br", "tr"})
CELL_TAGS = frozenset({"td", "th"})
# Tables of contents and navigation bars (texinfo, Sphinx, common themes).
SKIP_CLASSES = frozenset(
    {"contents", "shortcontents", "toc", "Contents_element", "Overview_element", "nav-panel", "sphinxsidebar",
     "related", "navigation", "navbar", "breadcrumb", "breadcrumbs", "section-toc", "mini-toc", "menu",
     "printindex", "index-cp", "index-fn", "index-vr", "index-ky", "index-pg", "index-tp", "index-en"}
)
NAV_RELS = frozenset({"next", "prev", "previous", "up", "contents", "index"})


def load_html(path: Path, data: bytes) -> LoadedDocument:
    from bs4 import BeautifulSoup

    if b"\x00" in data[:65536] and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(f"{path.name}: binary content (NUL bytes), not HTML")
    try:
        soup = BeautifulSoup(_markup(data, path.name), "html.parser")
    except Exception as exc:  # bs4's html.parser is lenient; anything raised here is unusable input
        raise InputError(f"{path.name}: cannot parse HTML: {exc}") from exc
    title_tag = soup.find("title")
    title = _clean(title_tag.get_text()) if title_tag else None
    builder = TextBuilder()
    root = soup.body or soup
    first_h1 = _walk(root, builder, path)
    return builder.build(title=title or first_h1, pages=None)


def _markup(data: bytes, name: str) -> bytes | str:
    """Bytes for BeautifulSoup when the page names its encoding (BOM, ``<meta charset>``); otherwise text
    decoded as plain text files are (UTF-8, then the best-fitting code page, Western ones preferred), since
    BeautifulSoup's own guess garbled Latin-1 pages that declare nothing."""
    if b"charset" in data[:4096].lower() or data.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return data
    return decode_text(data, name)


def _walk(root: Any, builder: TextBuilder, path: Path) -> str | None:
    """Depth-first over the tree with an explicit stack (deeply nested pages must not hit the recursion limit)."""
    from bs4 import NavigableString, Tag

    first_h1: str | None = None
    stack: list[tuple[Any, bool]] = [(root, False)]
    pre_depth = 0
    while stack:
        node, closing = stack.pop()
        if closing:
            if node.name == "pre":
                pre_depth -= 1
            _end_tag(node.name, builder)
            continue
        if isinstance(node, NavigableString):
            if type(node) is NavigableString:  # not a Comment, Doctype, CData or processing instruction
                (builder.write_verbatim if pre_depth else builder.write)(str(node))
            continue
        if not isinstance(node, Tag) or _skipped(node):
            continue
        name = node.name
        if name in HEADINGS:
            heading = _clean(node.get_text(" "))
            if heading:
                builder.start_segment(page=None, section=heading)
                builder.write(heading)
                builder.paragraph()
                first_h1 = first_h1 or (heading if name == "h1" else None)
            continue
        if name == "img":
            _add_local_image(builder, path, str(node.get("src") or ""))
            continue
        _start_tag(name, builder)
        if name == "pre":
            pre_depth += 1
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(list(node.children)))
    return first_h1


def _start_tag(name: str, builder: TextBuilder) -> None:
    if name in BLOCK_TAGS or name == "pre":
        builder.paragraph()
    elif name in LINE_TAGS:
        builder.newline()
    elif name in CELL_TAGS:
        builder.write(" ")


def _end_tag(name: str, builder: TextBuilder) -> None:
    if name in BLOCK_TAGS or name == "pre":
        builder.paragraph()
    elif name in LINE_TAGS:
        builder.newline()
    elif name in CELL_TAGS:
        builder.write(" ")


def _skipped(tag: Any) -> bool:
    if tag.name in SKIP_TAGS or tag.get("role") == "navigation" or tag.get("hidden") is not None:
        return True
    classes = set(tag.get("class") or ())
    if classes & SKIP_CLASSES:
        return True
    # texinfo's per-node bar ("Next: … Previous: … Up: …") is a div.header of navigation links only
    return "header" in classes and tag.name == "div" and _only_navigation(tag)


def _only_navigation(tag: Any) -> bool:
    links = tag.find_all("a")
    return bool(links) and all(NAV_RELS & set(link.get("rel") or ()) or link.get("accesskey") for link in links)


def _clean(text: str) -> str:
    return " ".join(text.split())
