"""Small pieces the pages share: thumbnails, captions, grids of results."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import streamlit as st

if TYPE_CHECKING:
    from ..retrieval.hits import Hit

T = TypeVar("T")
GRID_COLUMNS = 4
# Markdown, LaTeX ($), HTML (<) and Streamlit directive (:) characters, escaped anywhere in user text; a list,
# heading or quote marker only at the start (where it would begin a block).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()$<>~|:^&])")
_BLOCK_START = re.compile(r"^(\s*\d*)([#>+=.)-])")
# Streamlit turns URLs, www. names and e-mail addresses in text into links even when escaped: a zero-width
# space inside the pattern keeps them text (the visible characters are unchanged).
ZWSP = "\u200b"
_AUTOLINK = re.compile(r"(?i)(:/)(/)|(www)(\.)|(\w)(@)")


def md_escape(text: object) -> str:
    """User text (file names, queries, tags, OCR lines) made literal for ``st.markdown``/``st.caption``/labels:
    Markdown, LaTeX and directive characters backslash-escaped, line breaks as spaces, autolinks broken."""
    unlinked = _AUTOLINK.sub(lambda m: ZWSP.join(part for part in m.groups() if part), " ".join(str(text).splitlines()))
    escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", unlinked)
    return _BLOCK_START.sub(lambda m: m.group(1) + "\\" + m.group(2), escaped)


def plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"  # pragma: no cover


def image_source(library: Path, path: str, sha256: str | None = None) -> str | None:
    """The library's thumbnail of an image when it has one, else the file itself; None when neither exists."""
    from ..ingest.images import thumbnail_path

    if sha256:
        thumb = thumbnail_path(library, sha256)
        if thumb.is_file():
            return str(thumb)
    return path if Path(path).is_file() else None


def show_image(source: str | None, caption: str | None = None) -> None:
    """An image filling its column, or a placeholder when the file is gone."""
    if source is None or not Path(source).is_file():
        st.info("file missing", icon=":material/hide_image:")
        if caption:
            st.caption(caption)
        return
    try:
        st.image(source, caption=caption, width="stretch")
    except Exception as exc:  # noqa: BLE001 - an unreadable file must not break the page
        st.warning(md_escape(f"cannot show {Path(source).name}: {exc}"))


def show_hit_image(library: Path, hit: Hit, caption: str | None = None) -> None:
    show_image(image_source(library, hit.path, hit.extra.get("sha256")), caption)


def hit_caption(hit: Hit) -> str:
    """``#id · name · W×H · score`` with the name escaped (shown as Markdown)."""
    size = f" · {hit.width}×{hit.height}" if hit.width and hit.height else ""
    return f"#{hit.id} · {md_escape(Path(hit.path).name)}{size} · score {hit.score:.3f}"


def grid(items: Sequence[T], columns: int = GRID_COLUMNS) -> Iterator[tuple[T, Any]]:
    """Each item with the column container it goes in, row by row."""
    for start in range(0, len(items), columns):
        row = st.columns(columns)
        yield from zip(items[start:start + columns], row, strict=False)


def image_row(library: Path, hits: Iterable[Hit], columns: int = GRID_COLUMNS, key: str = "related") -> None:
    """Hits as captioned thumbnails, without controls (related images of an answer)."""
    with st.container(key=key):
        for hit, column in grid(list(hits), columns):
            with column:
                show_hit_image(library, hit, hit_caption(hit))


