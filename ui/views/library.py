"""Library page: counts, models, device and indexes; ingest a folder on the server with a progress bar; the
files that were skipped and why; the feedback collected so far.

Run by Streamlit as a page script (``__name__ == "__main__"``), importable as a module for its functions.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from mmrag.ui import state
from mmrag.ui.components import human_size

if TYPE_CHECKING:
    from mmrag.ingest.report import IngestReport
    from mmrag.library import Library

REPORT = "lib.report"


def render() -> None:
    lib = state.library()
    st.title("Library")
    ingest_form(lib)
    if st.session_state.get(REPORT) is not None:
        show_report(st.session_state[REPORT])
    status_section(lib)
    skipped_section(lib)
    feedback_section(lib)


def status_section(lib: Library) -> None:
    try:
        status = lib.status()
    except Exception as exc:  # noqa: BLE001 - shown on the page
        st.error(f"Cannot read the library status: {exc}", icon=":material/error:")
        return
    st.subheader("Contents")
    assets = status["assets"]
    columns = st.columns(6)
    for column, (label, value) in zip(columns, [
        ("Images", assets.get("image", 0)), ("Documents", assets.get("document", 0)),
        ("Generated", assets.get("generated", 0)), ("Passages", status["chunks"]),
        ("Skipped", status["skipped"]), ("On disk", human_size(status["size_bytes"])),
    ], strict=True):
        column.metric(label, value)
    models = status["models"]
    st.markdown("\n".join([
        f"- **Folder:** `{status['library']}`",
        f"- **Catalog:** `{status['database']}`",
        f"- **Image model:** {models['clip']['configured']} (library: `{models['clip']['library'] or 'none yet'}`)",
        f"- **Text model:** {models['text']['configured']} (library: `{models['text']['library'] or 'none yet'}`)",
        f"- **Device:** {status['device']}",
        f"- **Indexes:** {_index_summary(status['indexes'])}",
    ]))
    with st.expander("Index details"):
        st.json(status["indexes"], expanded=True)


def _index_summary(indexes: Any) -> str:
    if not isinstance(indexes, dict) or not indexes:
        return "none yet"
    parts = []
    for space, info in indexes.items():
        if isinstance(info, dict):
            kind = info.get("spec") or info.get("type") or info.get("kind") or "?"
            parts.append(f"{space}: {kind}, {info.get('count', '?')} vectors")
        else:
            parts.append(f"{space}: {info}")
    return "; ".join(parts)


def ingest_form(lib: Library) -> None:
    st.subheader("Add files")
    with st.form("lib.ingest", border=False):
        folder = st.text_input("Folder on the server", key="lib.folder", placeholder="/srv/photos/2024",
                               help="New and changed files are added, deleted ones dropped; unchanged files are "
                                    "skipped quickly.")
        submitted = st.form_submit_button("Ingest", type="primary", icon=":material/upload:")
    if submitted:
        ingest(lib, folder)


def ingest(lib: Library, folder: str | None) -> None:
    text = (folder or "").strip()
    if not text:
        st.error("Type the path of a folder on the server.", icon=":material/edit:")
        return
    path = Path(os.path.expanduser(text))
    if not path.exists():
        st.error(f"No such folder on the server: `{path}`", icon=":material/folder_off:")
        return
    bar = st.progress(0.0, text="Scanning…")

    def progress(done: int, total: int, current: str) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{done} of {total} · {Path(current).name}")

    try:
        report = lib.ingest([path], progress=progress)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        bar.empty()
        st.error(f"Ingest failed: {exc}", icon=":material/error:")
        return
    bar.progress(1.0, text=f"Done in {report.seconds:.1f} s")
    st.session_state[REPORT] = report


def show_report(report: IngestReport) -> None:
    message = (f"Added {report.added}, updated {report.updated}, removed {report.removed}, unchanged "
               f"{report.unchanged}, skipped {len(report.skipped)} in {report.seconds:.1f} s")
    if report.documents:
        message += f" ({report.documents} documents, {report.chunks} passages)"
    st.success(message, icon=":material/check_circle:")


def skipped_section(lib: Library) -> None:
    skipped = lib.skipped()
    st.subheader(f"Skipped files ({len(skipped)})")
    if not skipped:
        st.caption("Every file was read.")
        return
    st.dataframe([{"file": path, "reason": reason} for path, reason in skipped], hide_index=True,
                 width="stretch", key="lib.skipped")


def feedback_section(lib: Library) -> None:
    from mmrag.retrieval.feedback import export_feedback, feedback_counts

    counts = feedback_counts(lib.catalog)
    st.subheader("Feedback")
    st.caption(" · ".join(f"{target}s: :material/thumb_up: {c['up']} :material/thumb_down: {c['down']}"
                          for target, c in counts.items()) + " — export with `mmrag feedback --json`")
    if any(c["up"] or c["down"] for c in counts.values()):
        st.download_button("Download feedback (JSON)", json.dumps(export_feedback(lib.catalog), indent=2),
                           file_name="mmrag-feedback.json", mime="application/json", icon=":material/download:")


if __name__ == "__main__":
    render()
