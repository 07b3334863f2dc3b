"""The sidebar's search filters and result options, turned into ``filters={...}`` for ``Library.search``.

Widgets take their values from ``st.session_state`` (seeded here, or from the URL by ``ui.search_url``), never
from a ``value=`` argument, so a value set from the URL or kept across page switches is not overridden.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import streamlit as st

from ..catalog.models import IMAGE_KINDS
from . import state
from .details import known_tags
from .grid import DEFAULT_COLUMNS, MAX_COLUMNS, MIN_COLUMNS

if TYPE_CHECKING:
    from ..library import Library

FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2100, 12, 31)
K_MIN, K_MAX, K_STEP, K_DEFAULT = 4, 48, 4, 24
# widget key -> its value when nothing chose one (the URL, the user, or an earlier page visit)
DEFAULTS: dict[str, Any] = {
    "filter.kind": [], "filter.folder": "", "filter.after": None, "filter.before": None, "filter.tags": [],
    "search.k": K_DEFAULT, "search.weight": 0.5, "grid.columns": DEFAULT_COLUMNS,
}


@dataclass(frozen=True)
class SearchOptions:
    filters: dict[str, Any] = field(default_factory=dict)
    k: int = K_DEFAULT
    image_weight: float = 0.5
    columns: int = DEFAULT_COLUMNS

    def key(self) -> str:
        """A stable text form of what changes the hits: results are recomputed when it changes."""
        return json.dumps([self.filters, self.k, self.image_weight], sort_keys=True, default=str)


def seed_defaults() -> None:
    for key, value in DEFAULTS.items():
        state.session(key, list(value) if isinstance(value, list) else value)


def sidebar_options(lib: Library) -> SearchOptions:
    seed_defaults()
    bar = st.sidebar
    bar.subheader("Filters")
    kinds = bar.multiselect("Kind", list(IMAGE_KINDS), key="filter.kind", placeholder="any")
    folder = bar.text_input("Folder", key="filter.folder", placeholder="e.g. 2024/*",
                            help="A glob on the folder: `2024` matches any folder named 2024 and its sub-folders.")
    after = bar.date_input("Taken on or after", min_value=FIRST_DATE, max_value=LAST_DATE, key="filter.after")
    before = bar.date_input("Taken before", min_value=FIRST_DATE, max_value=LAST_DATE, key="filter.before")
    tags = bar.multiselect("Tags (all of)", known_tags(lib.catalog), key="filter.tags", placeholder="any")
    bar.subheader("Results")
    k = bar.slider("How many", K_MIN, K_MAX, step=K_STEP, key="search.k")
    columns = bar.slider("Columns", MIN_COLUMNS, MAX_COLUMNS, key="grid.columns",
                         help="Thumbnails per row: fewer columns, bigger thumbnails.")
    weight = bar.slider("Image weight", 0.0, 1.0, step=0.05, key="search.weight",
                        help="For a text + image query: 0 is the text alone, 1 the image alone.")
    return SearchOptions(filters=build_filters(kinds, folder, after, before, tags), k=int(k),
                         image_weight=float(weight), columns=int(columns))


def build_filters(kinds: list[str], folder: str | None, after: date | None, before: date | None,
                  tags: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": list(kinds) or None,
        "folder": (folder or "").strip() or None,
        "after": after.isoformat() if isinstance(after, date) else None,
        "before": before.isoformat() if isinstance(before, date) else None,
        "tags": list(tags) or None,
    }
    return {name: value for name, value in values.items() if value is not None}
