"""The thumbnail grid: one Streamlit element (an ``st.components.v2`` component) instead of an image, a caption
and three widgets per result.

Thumbnails travel as small cached JPEG ``data:`` URIs inside the component's data, so the browser renders the
whole grid from one message, without a request per image. Captions are set with ``textContent`` (user text is
never parsed as HTML or Markdown). A click on a thumbnail reports ``open`` (the item's id); the star reports
``pick`` (toggle it as a reference for Generate).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import streamlit as st

MIN_COLUMNS, MAX_COLUMNS, DEFAULT_COLUMNS = 4, 10, 6
THUMB_PX = 256  # the longest side of a grid thumbnail sent to the browser

CSS = """
.mm-grid { display: grid; gap: 0.6rem; grid-template-columns: repeat(var(--mm-cols, 6), minmax(0, 1fr)); }
.mm-cell { display: flex; flex-direction: column; min-width: 0; position: relative; }
.mm-open { all: unset; cursor: pointer; display: block; aspect-ratio: 1 / 1; border-radius: 0.4rem;
  background: rgba(128, 128, 128, 0.10); overflow: hidden; }
.mm-open:focus-visible { outline: 2px solid #ff4b4b; outline-offset: 2px; }
.mm-open img { width: 100%; height: 100%; object-fit: contain; display: block; }
.mm-open:hover img { transform: scale(1.03); transition: transform 0.15s; }
.mm-missing { display: flex; align-items: center; justify-content: center; height: 100%; font-size: 0.8rem;
  opacity: 0.7; }
.mm-caption { font-size: 0.78rem; line-height: 1.2rem; height: 1.2rem; opacity: 0.75; white-space: nowrap;
  overflow: hidden; text-overflow: ellipsis; padding: 0.15rem 1.6rem 0 0.1rem; }
.mm-pick { all: unset; cursor: pointer; position: absolute; right: 0.1rem; bottom: 0; font-size: 1rem;
  line-height: 1.2rem; opacity: 0.55; }
.mm-pick[aria-pressed="true"] { opacity: 1; color: #f0b400; }
.mm-pick:focus-visible { outline: 2px solid #ff4b4b; }
"""

JS = """
export default function (component) {
  const { data, parentElement, setTriggerValue } = component;
  let root = parentElement.querySelector('.mm-grid');
  if (!root) { root = document.createElement('div'); root.className = 'mm-grid'; parentElement.appendChild(root); }
  root.style.setProperty('--mm-cols', String(data.columns));
  root.replaceChildren(...data.cells.map((cell, index) => {
    const figure = document.createElement('div');
    figure.className = 'mm-cell';
    figure.dataset.id = String(cell.id);
    const open = document.createElement('button');
    open.className = 'mm-open';
    open.type = 'button';
    open.title = cell.title;
    open.setAttribute('aria-label', 'Open ' + cell.name);
    if (cell.src) {
      const img = document.createElement('img');
      img.src = cell.src; img.alt = cell.name; img.decoding = 'async';
      open.appendChild(img);
    } else {
      const gone = document.createElement('span'); gone.className = 'mm-missing'; gone.textContent = 'file missing';
      open.appendChild(gone);
    }
    open.addEventListener('click', () => setTriggerValue('open', cell.id));
    const caption = document.createElement('div');
    caption.className = 'mm-caption';
    caption.textContent = cell.caption;
    caption.title = cell.title;
    const pick = document.createElement('button');
    pick.className = 'mm-pick'; pick.type = 'button';
    pick.textContent = cell.picked ? '\\u2605' : '\\u2606';
    pick.setAttribute('aria-pressed', cell.picked ? 'true' : 'false');
    pick.title = cell.picked ? 'Picked as a reference for Generate (click to drop)'
                             : 'Pick as a reference for Generate';
    pick.setAttribute('aria-label', pick.title + ': ' + cell.name);
    pick.addEventListener('click', () => setTriggerValue('pick', cell.id));
    figure.append(open, caption, pick);
    return figure;
  }));
}
"""


@dataclass(frozen=True)
class Cell:
    """One grid item: its id, the thumbnail (a ``data:`` URI, or None when the file is gone), the text under
    it and the hover text."""

    id: int
    src: str | None
    name: str
    caption: str
    title: str
    picked: bool = False


@st.cache_resource(show_spinner=False)
def _grid_component() -> Any:
    return st.components.v2.component("mmrag_grid", css=CSS, js=JS, isolate_styles=False)


@st.cache_data(max_entries=4096, show_spinner=False)
def thumbnail_uri(path: str, mtime: float, size: int = THUMB_PX) -> str | None:
    """A small JPEG of the image at ``path`` as a ``data:`` URI (cached by path and mtime), or None."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as opened:
            if opened.format == "JPEG" and max(opened.size) <= size:
                data = Path(path).read_bytes()  # already a small JPEG (the library's thumbnails)
            else:
                opened.draft("RGB", (size, size))
                image = (ImageOps.exif_transpose(opened) or opened).convert("RGB")
                image.thumbnail((size, size))
                buffer = io.BytesIO()
                image.save(buffer, "JPEG", quality=82)
                data = buffer.getvalue()
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    return "data:image/jpeg;base64," + base64.b64encode(data).decode("ascii")


def uri_for(source: str | None) -> str | None:
    if source is None:
        return None
    try:
        return thumbnail_uri(source, Path(source).stat().st_mtime)
    except OSError:
        return None


def thumbnail_grid(cells: list[Cell], columns: int, key: str, on_open: Callable[[int], None],
                   on_pick: Callable[[int], None]) -> None:
    """Show ``cells`` in ``columns`` even columns. A click calls ``on_open(id)`` or ``on_pick(id)`` before the
    next run, so that run already shows the dialog or the changed star."""
    columns = max(MIN_COLUMNS, min(MAX_COLUMNS, int(columns)))
    _grid_component()(key=key, data={"columns": columns, "cells": [asdict(c) for c in cells]},
                      on_open_change=lambda: _call(on_open, key, "open"),
                      on_pick_change=lambda: _call(on_pick, key, "pick"))


def _call(callback: Callable[[int], None], key: str, event: str) -> None:
    value = (st.session_state.get(key) or {}).get(event)
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        callback(int(value))
