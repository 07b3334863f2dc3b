"""Duplicates page: found on arrival, groups of copies of one picture side by side, the best original first, each
other copy with how it relates (exact copy, resized, edited, crop, rotation, mirror, ...), its confidence and its
path. "Keep this" moves the group's other files to the library's trash folder (never a silent delete); the last
move can be undone at once and anything in the trash restored later. How the thresholds work is explained.

Run by Streamlit as a page script (``__name__ == "__main__"``), importable as a module for its functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from mmrag.ui import access, state
from mmrag.ui.components import human_size, image_source, md_escape, plural, show_image

if TYPE_CHECKING:
    from mmrag.ingest.trash import TrashItem
    from mmrag.library import Library
    from mmrag.retrieval.hits import DuplicateGroup

GROUPS = "dup.groups"
MOVED = "dup.moved"  # the trash entries of the last "keep this" (for Undo)
NOTICE = "dup.notice"
EXACT = "exact bytes"
def thresholds() -> str:
    """How the tests decide, with the thresholds the code uses (``retrieval.dedup_verify``, ``dedup_icon_pairs``)."""
    from mmrag.retrieval.dedup_icon_pairs import ICON_MARGIN
    from mmrag.retrieval.dedup_icons import ICON_MAX_SIDE
    from mmrag.retrieval.dedup_verify import (
        ALIGNED_SAME,
        ICON_REFRAME,
        ICON_SAME,
        MAX_DIFFERING,
        MIN_INLIERS,
        OVERLAP_SAME,
    )

    return f"""Two tests decide whether two images are the same picture; each pair gets a **confidence**:
**0.5** means it just passed the test's threshold, **1.0** that it is certain.

- **Aligned pixels** (resized, re-encoded, colour-edited, grey, blurred, quarter-turned or mirrored copies):
  the small grey copies must correlate at **{ALIGNED_SAME:.2f}** or more, with at most
  **{MAX_DIFFERING * 100:.0f} %** of the pixels differing (a watermark covers about 5 %).
- **Geometry** (crops, small rotations, borders): at least **{MIN_INLIERS}** matching keypoints consistent with
  one rotation/scale/shift, spread over the picture, and the overlapping parts must correlate at
  **{OVERLAP_SAME:.2f}** or more.
- **Icons** (at most {ICON_MAX_SIDE} px; a theme draws each icon again at each size): two icons of other sizes
  pair when each is the other's clear best match by colour layout, colours and outlines (icon score
  **{ICON_SAME:.2f}** or more, **{ICON_MARGIN:.2f}** ahead of the runner-up). Icons of one size that differ by
  an emblem, a badge or an arrow's shade are two icons, and so are two whose picture is zoomed or moved by over
  **{ICON_REFRAME * 100:.0f} %** (one icon drawn again inside another). Of two icons of one size that take the
  same icon as their best match, only the clearer keeps it, and a group never holds two icons of one size that
  are not copies of each other. An icon group can still join two look-alike icons: check it before you keep one.

**Min confidence** 0.5 shows every pair the thresholds accept; raise it to see only the surest pairs; 1.0 leaves
only certain ones. **Exact copy** means the files are byte for byte identical. The best original (most pixels,
lossless, least compressed, oldest) is listed first and marked **keep**."""


def render() -> None:
    lib = state.library()
    st.title("Duplicates")
    with st.form("dup.form", border=False):
        conf_col, folder_col = st.columns(2)
        confidence = conf_col.slider("Min confidence", 0.0, 1.0, 0.5, 0.05, key="dup.confidence",
                                     help="0.5 = the documented thresholds; 1.0 = certain pairs only.")
        folder = folder_col.text_input("Folder", key="dup.folder", placeholder="any",
                                       help="Only images under this folder (a glob such as photos/2024/*).")
        submitted = st.form_submit_button("Find duplicates", type="primary", icon=":material/content_copy:")
    with st.expander("How duplicates are found", icon=":material/help:"):
        st.markdown(thresholds())
    if submitted or GROUPS not in st.session_state:  # runs on arrival
        find(lib, confidence, folder)
    locked = access.write_refusal(lib)  # a read-only key: Keep this / Undo / Restore are off, and refused
    access.read_only_note(locked, "Moving files to the trash and restoring them")
    show_notice(lib, locked)
    groups = st.session_state.get(GROUPS)
    if groups is not None:
        show_groups(lib, groups, locked)
    trash_section(lib, locked)


def find(lib: Library, confidence: float, folder: str | None) -> None:
    filters = {"folder": folder.strip()} if folder and folder.strip() else None
    try:
        with st.spinner("Comparing images…"):
            st.session_state[GROUPS] = lib.duplicates(float(confidence), filters=filters)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        st.session_state[GROUPS] = None
        st.error(f"Finding duplicates failed: {md_escape(exc)}", icon=":material/error:")


def show_groups(lib: Library, groups: list[DuplicateGroup], locked: str | None) -> None:
    if not groups:
        st.success("No duplicates found.", icon=":material/check_circle:")
        return
    st.caption(f"{plural(len(groups), 'group')}, {plural(sum(len(g.ids) for g in groups), 'image')}")
    facts = _asset_facts(lib, [i for g in groups for i in g.ids])
    movable = _movable(lib, [p for g in groups for p in g.paths])
    with st.container(key="dup-groups"):
        for number, group in enumerate(groups, 1):
            show_group(lib, number, group, facts, movable, locked)


def show_group(lib: Library, number: int, group: DuplicateGroup, facts: dict[int, tuple[str | None, int | None, str]],
               movable: set[str], locked: str | None) -> None:
    with st.container(border=True, key=f"dup.group.{number}"):
        st.markdown(f"**Group {number}** · {len(group.ids)} images · {', '.join(group.labels)} · "
                    f"confidence ≥ {group.confidence:.2f}")
        relation = _relations(group)
        members = list(zip(group.ids, group.paths, strict=True))
        for (asset_id, path), column in zip(members, st.columns(max(len(members), 4)), strict=False):
            sha, size, dims = facts.get(asset_id, (None, None, ""))
            with column:
                show_image(image_source(lib.path, path, sha), f"#{asset_id} · {md_escape(Path(path).name)}")
                keep_button(lib, number, group, asset_id, movable, locked)  # under the image: buttons line up
                if relation.get(asset_id) == EXACT:
                    st.badge("exact copy", icon=":material/content_copy:", color="red")
                st.caption(f"{relation.get(asset_id, '')} · {human_size(size)} {dims}")
                st.caption(md_escape(path))


def keep_button(lib: Library, number: int, group: DuplicateGroup, keep: int, movable: set[str],
                locked: str | None) -> None:
    others = [(i, p) for i, p in zip(group.ids, group.paths, strict=True) if i != keep]
    blocked = [p for _, p in others if p not in movable]
    help_text = (f"Cannot move {Path(blocked[0]).name}: it is outside the library folder and serve.ingest_roots."
                 if blocked else f"Moves {plural(len(others), 'other file')} to the library's trash folder; "
                                 "Undo or Restore brings them back.")
    st.button("Keep this", key=f"dup.keep.{number}.{keep}", icon=":material/check:",
              disabled=bool(blocked) or locked is not None, help=locked or help_text,
              on_click=keep_only, args=(lib, keep, [i for i, _ in others]),
              type="primary" if keep == group.best_id else "secondary")


def refused(lib: Library, what: str) -> bool:
    """The server-side check of a write handler: True (and the notice) when this session may not write."""
    message = access.refused(lib, what)
    if message is not None:
        st.session_state[NOTICE] = ("error", message)
    return message is not None


def keep_only(lib: Library, keep: int, others: list[int]) -> None:
    if refused(lib, "Nothing was moved"):
        return
    try:
        moved = lib.trash(others, keep=keep)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        st.session_state[NOTICE] = ("error", f"Nothing was moved: {md_escape(exc)}")
        return
    st.session_state[MOVED] = [item.id for item in moved]
    st.session_state[NOTICE] = ("moved", f"Kept #{keep}; moved {plural(len(moved), 'file')} to the trash: "
                                         + ", ".join(f"{md_escape(item.path)}" for item in moved))
    st.session_state.pop(GROUPS, None)  # found again on this run


def undo(lib: Library, entries: list[int]) -> None:
    if refused(lib, "Nothing was restored"):
        return
    try:
        restored = lib.restore(entries)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        st.session_state[NOTICE] = ("error", f"Could not restore: {md_escape(exc)}")
        return
    st.session_state[MOVED] = []
    st.session_state[NOTICE] = ("restored", f"Restored {plural(len(restored), 'file')}: "
                                            + ", ".join(f"{md_escape(i.restored_path)}" for i in restored))
    st.session_state.pop(GROUPS, None)


def show_notice(lib: Library, locked: str | None) -> None:
    notice = st.session_state.get(NOTICE)
    if not notice:
        return
    kind, message = notice
    if kind == "error":
        st.error(message, icon=":material/error:")
        return
    box = st.container(border=True, key="dup-notice", horizontal=True, vertical_alignment="center")
    box.markdown(f":material/{'delete' if kind == 'moved' else 'restore'}: {message}")
    entries = st.session_state.get(MOVED) or []
    if kind == "moved" and entries:
        box.button("Undo", key="dup.undo", icon=":material/undo:", on_click=undo, args=(lib, entries),
                   disabled=locked is not None, help=locked)


def trash_section(lib: Library, locked: str | None) -> None:
    try:
        items = lib.trash_list()
    except Exception as exc:  # noqa: BLE001 - shown on the page
        st.warning(f"Cannot read the trash: {md_escape(exc)}", icon=":material/warning:")
        return
    st.subheader(f"Trash ({len(items)})")
    if not items:
        st.caption(f"Empty. Files moved here go to {md_escape(lib.path / '.trash')} and can be restored.")
        return
    with st.container(key="dup-trash"):
        for item in items:
            trash_row(lib, item, locked)


def trash_row(lib: Library, item: TrashItem, locked: str | None) -> None:
    row = st.container(horizontal=True, vertical_alignment="center")
    kept = f" · kept #{item.kept_id}" if item.kept_id is not None else ""
    row.markdown(f"{md_escape(item.path)} · {human_size(item.size)} · "
                 f"{item.trashed_at:%Y-%m-%d %H:%M} UTC{kept}")
    row.button("Restore", key=f"dup.restore.{item.id}", icon=":material/restore:", on_click=undo,
               args=(lib, [item.id]), type="tertiary", disabled=locked is not None, help=locked)


def _relations(group: DuplicateGroup) -> dict[int, str]:
    """What to say under each image: "keep (best original)", or its pair's label and confidence."""
    said = {group.best_id: "**keep** (best original)"}
    for pair in group.pairs:
        for asset_id in (pair.b, pair.a):
            if pair.label == EXACT and asset_id != group.best_id:
                said.setdefault(asset_id, EXACT)
            said.setdefault(asset_id, f"{pair.label} ({pair.confidence:.2f})")
    return said


def _movable(lib: Library, paths: list[str]) -> set[str]:
    from mmrag.ingest.scan import canonical, inside
    from mmrag.ingest.trash import movable_roots

    roots = movable_roots(lib.settings)
    return {path for path in paths if inside(canonical(path), roots)}


def _asset_facts(lib: Library, ids: list[int]) -> dict[int, tuple[str | None, int | None, str]]:
    from sqlalchemy import select

    from mmrag.catalog.models import Asset

    with lib.catalog.session() as session:
        rows = session.execute(select(Asset.id, Asset.sha256, Asset.size, Asset.width, Asset.height)
                               .where(Asset.id.in_(ids))).all()
    return {i: (sha, size, f"· {w}×{h}" if w and h else "") for i, sha, size, w, h in rows}


if __name__ == "__main__":
    render()
