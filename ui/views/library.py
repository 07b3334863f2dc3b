"""Library page: counts, models, device and indexes; upload files from the browser into the library (under
``<library>/files/``) and ingest them; ingest a folder on the server, only under the operator's
``serve.ingest_roots``; the files that were skipped and why; the feedback collected so far.

Run by Streamlit as a page script (``__name__ == "__main__"``), importable as a module for its functions.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st

from mmrag.ui import access, state
from mmrag.ui.components import human_size, md_escape
from mmrag.ui.uploads import IMAGE_TYPES, upload_limit_mb

if TYPE_CHECKING:
    from mmrag.ingest.report import IngestReport
    from mmrag.library import Library

REPORT = "lib.report"
UPLOAD_ROUND = "lib.upload_round"
FILES_DIR = "files"  # uploads from the browser, inside the library folder
UPLOAD_TYPES = [*IMAGE_TYPES, "pdf", "txt", "md", "markdown", "html", "htm"]


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
    locked = access.write_refusal(lib)  # a read-only key: every control below is off, and each handler refuses
    access.read_only_note(locked, "Uploading and ingesting")
    upload_form(lib, locked)
    roots = lib.settings.serve.ingest_roots
    if not roots:
        st.caption("Ingesting folders on the server is off: the operator lists the folders it may read in "
                   "`serve.ingest_roots` (the library's mmrag.toml, `[serve] ingest_roots = [\"/srv/photos\"]`, "
                   "or `MMRAG_SERVE__INGEST_ROOTS`).")
        return
    with st.form("lib.ingest", border=False):
        folder = st.text_input("Folder on the server", key="lib.folder", placeholder=str(roots[0]),
                               help="A folder under " + ", ".join(str(r) for r in roots) + ". New and changed "
                                    "files are added, deleted ones dropped; unchanged files are skipped quickly.",
                               disabled=locked is not None)
        submitted = st.form_submit_button("Ingest", type="primary", icon=":material/upload:",
                                          disabled=locked is not None)
    st.caption("Allowed folders: " + ", ".join(f"{md_escape(root)}" for root in roots))
    if submitted:
        ingest(lib, folder)


def upload_form(lib: Library, locked: str | None) -> None:
    """Files from the browser, saved under ``<library>/files/`` and ingested (``locked``: why not, if not)."""
    key = f"lib.upload.{state.session(UPLOAD_ROUND, 0)}"  # a new key empties the uploader after an ingest
    files = st.file_uploader("Upload files into the library", type=UPLOAD_TYPES, accept_multiple_files=True,
                             key=key, max_upload_size=upload_limit_mb(), disabled=locked is not None,
                             help=f"Images and documents; saved under the library's {FILES_DIR}/ folder.")
    go = st.button("Upload and ingest", key="lib.upload.go", icon=":material/cloud_upload:",
                   disabled=not files or locked is not None)
    if not go or access.refuse(lib, "Nothing was added"):
        return
    saved = [save_upload(lib.path / FILES_DIR, upload.name, upload.getvalue()) for upload in files or []]
    st.session_state[UPLOAD_ROUND] = st.session_state[UPLOAD_ROUND] + 1
    if run_ingest(lib, saved):
        st.rerun()  # an empty uploader; the report stays above the contents


def save_upload(folder: Path, name: str, data: bytes) -> Path:
    """Write an upload under ``folder`` by its (cleaned) name; another file of that name gets `` (2)``, ..."""
    folder.mkdir(parents=True, exist_ok=True)
    clean = re.sub(r"[^\w.\- ()]+", "_", Path(name).name).strip(" .") or "upload"
    path = folder / clean
    number = 2
    while path.exists() and path.read_bytes() != data:
        path = folder / f"{Path(clean).stem} ({number}){Path(clean).suffix}"
        number += 1
    if not path.exists():
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return path


def ingest(lib: Library, folder: str | None) -> None:
    if access.refuse(lib, "Nothing was added"):
        return
    text = (folder or "").strip()
    if not text:
        st.error("Type the path of a folder on the server in **Folder on the server**.", icon=":material/edit:")
        return
    from mmrag.ingest.roots import PathRefused, allowed_ingest_path

    try:
        path = allowed_ingest_path(text, lib.settings.serve.ingest_roots)
    except PathRefused as exc:
        st.error(md_escape(str(exc)), icon=":material/folder_off:")
        return
    run_ingest(lib, [path])


def run_ingest(lib: Library, paths: list[Path]) -> bool:
    """Ingest with a progress bar; the report is kept for the page. False (and a message) when it failed."""
    bar = st.progress(0.0, text="Scanning…")

    def progress(done: int, total: int, current: str) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{done} of {total} · {Path(current).name}")

    try:
        report = lib.ingest(paths, progress=progress)
    except Exception as exc:  # noqa: BLE001 - shown on the page
        bar.empty()
        st.error(f"Ingest failed: {md_escape(exc)}", icon=":material/error:")
        return False
    bar.progress(1.0, text=f"Done in {report.seconds:.1f} s")
    st.session_state[REPORT] = report
    return True


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
