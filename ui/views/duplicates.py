"""Duplicates page: groups of copies of one picture side by side, the best original first ("keep"), each
other copy with how it relates (resized, edited, crop, rotation, mirror, ...) and the pair's confidence.

Run by Streamlit as a page script (``__name__ == "__main__"``), importable as a module for its functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from mmrag.ui import state
from mmrag.ui.components import human_size, image_source, plural, show_image

if TYPE_CHECKING:
    from mmrag.library import Library
    from mmrag.retrieval.hits import DuplicateGroup

GROUPS = "dup.groups"


def render() -> None:
    lib = state.library()
    st.title("Duplicates")
    with st.form("dup.form", border=False):
        conf_col, folder_col = st.columns(2)
        confidence = conf_col.slider("Min confidence", 0.0, 1.0, 0.5, 0.05, key="dup.confidence",
                                     help="0.5 = the documented thresholds; 1.0 = exact copies only.")
        folder = folder_col.text_input("Folder", key="dup.folder", placeholder="any")
        submitted = st.form_submit_button("Find duplicates", type="primary", icon=":material/content_copy:")
    if submitted:
        find(lib, confidence, folder)
    groups = st.session_state.get(GROUPS)
    if groups is not None:
        show_groups(lib, groups)


def find(lib: Library, confidence: float, folder: str | None) -> None:
    filters = {"folder": folder.strip()} if folder and folder.strip() else None
    try:
        with st.spinner("Comparing images…"):
            st.session_state[GROUPS] = lib.duplicates(float(confidence), filters=filters)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        st.error(f"Finding duplicates failed: {exc}", icon=":material/error:")


def show_groups(lib: Library, groups: list[DuplicateGroup]) -> None:
    if not groups:
        st.success("No near-duplicates found.", icon=":material/check_circle:")
        return
    st.caption(f"{plural(len(groups), 'group')}, {plural(sum(len(g.ids) for g in groups), 'image')}")
    facts = _asset_facts(lib, [i for g in groups for i in g.ids])
    with st.container(key="dup.groups"):
        for number, group in enumerate(groups, 1):
            show_group(lib, number, group, facts)


def show_group(lib: Library, number: int, group: DuplicateGroup,
               facts: dict[int, tuple[str | None, int | None, str]]) -> None:
    with st.container(border=True, key=f"dup.group.{number}"):
        st.markdown(f"**Group {number}** · {len(group.ids)} images · {', '.join(group.labels)} · "
                    f"confidence ≥ {group.confidence:.2f}")
        relation = _relations(group)
        members = list(zip(group.ids, group.paths, strict=True))
        for (asset_id, path), column in zip(members, st.columns(max(len(members), 4)), strict=False):
            sha, size, dims = facts.get(asset_id, (None, None, ""))
            with column:
                show_image(image_source(lib.path, path, sha), f"#{asset_id} · {Path(path).name}")
                st.caption(f"{relation.get(asset_id, '')} · {human_size(size)} {dims}")
                st.caption(path)


def _relations(group: DuplicateGroup) -> dict[int, str]:
    """What to say under each image: "keep (best original)", or its pair's label and confidence."""
    said = {group.best_id: "**keep** (best original)"}
    for pair in group.pairs:
        for asset_id in (pair.b, pair.a):
            said.setdefault(asset_id, f"{pair.label} ({pair.confidence:.2f})")
    return said


def _asset_facts(lib: Library, ids: list[int]) -> dict[int, tuple[str | None, int | None, str]]:
    from sqlalchemy import select

    from mmrag.catalog.models import Asset

    with lib.catalog.session() as session:
        rows = session.execute(select(Asset.id, Asset.sha256, Asset.size, Asset.width, Asset.height)
                               .where(Asset.id.in_(ids))).all()
    return {i: (sha, size, f"· {w}×{h}" if w and h else "") for i, sha, size, w, h in rows}


if __name__ == "__main__":
    render()
