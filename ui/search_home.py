"""The search page before a query: counts by kind, what each page does, and the most recently added images
(a browsable grid: click one to open it, "More like this" from there)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st
from sqlalchemy import func, select

from ..catalog.models import IMAGE_KINDS
from .components import plural

if TYPE_CHECKING:
    from ..catalog.db import Catalog
    from ..catalog.models import Asset

RECENT = 24
PAGES_HELP = (
    ("Search", "find images by words, by an example image (drop it on the box), or both; filters in the sidebar"),
    ("Ask", "questions answered from the documents, with numbered citations"),
    ("Generate", "new images from references you pick here (the star on a thumbnail) or upload"),
    ("Duplicates", "groups of copies and near-copies of the same picture"),
    ("Library", "counts, models, ingest a folder, skipped files and feedback"),
)
KIND_NAMES = {"image": "image", "generated": "generated image", "document": "document"}


def counts_by_kind(catalog: Catalog) -> dict[str, int]:
    from ..catalog.models import Asset

    with catalog.session() as session:
        rows = session.execute(select(Asset.kind, func.count()).where(Asset.status == "ok").group_by(Asset.kind)).all()
    return {str(kind): int(count) for kind, count in rows}


def recent_images(catalog: Catalog, limit: int = RECENT) -> list[Asset]:
    """The images added last (newest first)."""
    from ..catalog.models import Asset

    with catalog.session() as session:
        query = (select(Asset).where(Asset.status == "ok", Asset.kind.in_(IMAGE_KINDS))
                 .order_by(Asset.created_at.desc(), Asset.id.desc()).limit(limit))
        return list(session.execute(query).scalars())


def counts_line(counts: dict[str, int]) -> str:
    if not counts:
        return "The library is empty: ingest a folder on the Library page."
    parts = [plural(n, KIND_NAMES.get(kind, kind)) for kind, n in sorted(counts.items())]
    return "The library holds " + ", ".join(parts) + "."


def welcome(counts: dict[str, int]) -> None:
    """Counts by kind and one line per page, above the recent images."""
    with st.container(key="search-home"):
        st.markdown(counts_line(counts))
        with st.expander("What each page does", expanded=False):
            st.markdown("\n".join(f"- **{page}**: {text}" for page, text in PAGES_HELP))
