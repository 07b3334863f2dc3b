"""Duplicates page: groups of near-duplicate images (perceptual hash, confirmed by CLIP similarity), each
group's images side by side.

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
        hash_col, sim_col, folder_col = st.columns(3)
        distance = hash_col.slider("Max hash distance (bits)", 0, 32, 10, key="dup.distance",
                                   help="How different the perceptual hashes may be (0 = identical).")
        similarity = sim_col.slider("Min similarity", 0.5, 1.0, 0.9, 0.01, key="dup.similarity",
                                    help="Lowest CLIP cosine similarity within a group.")
        folder = folder_col.text_input("Folder", key="dup.folder", placeholder="any")
        submitted = st.form_submit_button("Find duplicates", type="primary", icon=":material/content_copy:")
    if submitted:
        find(lib, distance, similarity, folder)
    groups = st.session_state.get(GROUPS)
    if groups is not None:
        show_groups(lib, groups)


def find(lib: Library, distance: int, similarity: float, folder: str | None) -> None:
    filters = {"folder": folder.strip()} if folder and folder.strip() else None
    try:
        with st.spinner("Comparing images…"):
            st.session_state[GROUPS] = lib.duplicates(int(distance), float(similarity), filters=filters)
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
        st.markdown(f"**Group {number}** · {len(group.ids)} images · similarity ≥ {group.similarity:.3f} · "
                    f"hash distance ≤ {group.max_hash_distance}")
        members = list(zip(group.ids, group.paths, strict=True))
        for (asset_id, path), column in zip(members, st.columns(max(len(members), 4)), strict=False):
            sha, size, dims = facts.get(asset_id, (None, None, ""))
            with column:
                show_image(image_source(lib.path, path, sha), f"#{asset_id} · {Path(path).name}")
                st.caption(f"{human_size(size)} {dims}")


def _asset_facts(lib: Library, ids: list[int]) -> dict[int, tuple[str | None, int | None, str]]:
    from sqlalchemy import select

    from mmrag.catalog.models import Asset

    with lib.catalog.session() as session:
        rows = session.execute(select(Asset.id, Asset.sha256, Asset.size, Asset.width, Asset.height)
                               .where(Asset.id.in_(ids))).all()
    return {i: (sha, size, f"· {w}×{h}" if w and h else "") for i, sha, size, w, h in rows}


if __name__ == "__main__":
    render()
