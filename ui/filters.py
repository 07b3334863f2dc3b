"""The sidebar's search filters and result options, turned into ``filters={...}`` for ``Library.search``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import streamlit as st

from ..catalog.models import IMAGE_KINDS
from .details import known_tags

if TYPE_CHECKING:
    from ..library import Library

FIRST_DATE = date(1900, 1, 1)
LAST_DATE = date(2100, 12, 31)


@dataclass(frozen=True)
class SearchOptions:
    filters: dict[str, Any] = field(default_factory=dict)
    k: int = 12
    image_weight: float = 0.5

    def key(self) -> str:
        """A stable text form: results are recomputed when it changes."""
        return json.dumps([self.filters, self.k, self.image_weight], sort_keys=True, default=str)


def sidebar_options(lib: Library) -> SearchOptions:
    bar = st.sidebar
    bar.subheader("Filters")
    kinds = bar.multiselect("Kind", list(IMAGE_KINDS), key="filter.kind", placeholder="any")
    folder = bar.text_input("Folder", key="filter.folder", placeholder="e.g. 2024/*",
                            help="A glob on the folder: `2024` matches any folder named 2024 and its sub-folders.")
    after = bar.date_input("Taken on or after", value=None, min_value=FIRST_DATE, max_value=LAST_DATE,
                           key="filter.after")
    before = bar.date_input("Taken before", value=None, min_value=FIRST_DATE, max_value=LAST_DATE,
                            key="filter.before")
    tags = bar.multiselect("Tags (all of)", known_tags(lib.catalog), key="filter.tags", placeholder="any")
    bar.subheader("Results")
    k = bar.slider("How many", 4, 48, 12, step=4, key="search.k")
    weight = bar.slider("Image weight", 0.0, 1.0, 0.5, step=0.05, key="search.weight",
                        help="For a text + image query: 0 is the text alone, 1 the image alone.")
    return SearchOptions(filters=build_filters(kinds, folder, after, before, tags), k=int(k),
                         image_weight=float(weight))


def build_filters(kinds: list[str], folder: str | None, after: date | None, before: date | None,
                  tags: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "kind": list(kinds) or None,
        "folder": (folder or "").strip() or None,
        "after": after.isoformat() if after else None,
        "before": before.isoformat() if before else None,
        "tags": list(tags) or None,
    }
    return {name: value for name, value in values.items() if value is not None}
