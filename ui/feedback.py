"""Thumbs up/down widgets that store votes in the catalog (``retrieval.feedback``).

A vote changed in the same browser session replaces its row; a vote taken back deletes it.
"""

from __future__ import annotations

import hashlib

import streamlit as st

from . import access, state


def widget_key(target: str, query: str, asset_id: int | None = None, chunk_id: int | None = None) -> str:
    digest = hashlib.sha1(query.encode("utf-8")).hexdigest()[:12]
    return f"fb.{target}.{digest}.{asset_id or ''}.{chunk_id or ''}"


def vote(target: str, query: str, *, asset_id: int | None = None, chunk_id: int | None = None) -> None:
    """A thumbs widget for one result (``target="result"``) or answer (``target="answer"``); off for a
    read-only key (a vote is written to the library's catalog)."""
    key = widget_key(target, query, asset_id, chunk_id)
    st.feedback("thumbs", key=key, on_change=_on_vote, args=(key, target, query, asset_id, chunk_id),
                disabled=access.write_refusal(state.library()) is not None)


def _on_vote(key: str, target: str, query: str, asset_id: int | None, chunk_id: int | None) -> None:
    from ..retrieval.feedback import delete_feedback, record_feedback

    lib = state.library()
    refusal = access.refused(lib, "Feedback not saved")
    if refusal is not None:
        st.session_state[key] = None
        st.toast(refusal, icon=":material/lock:")
        return
    catalog = lib.catalog
    ids: dict[str, int] = state.session(state.FEEDBACK_IDS, {})
    choice = st.session_state.get(key)
    try:
        if choice is None:
            if key in ids:
                delete_feedback(catalog, ids.pop(key))
            return
        value = 1 if choice == 1 else -1
        ids[key] = record_feedback(catalog, target, query, value, asset_id=asset_id, chunk_id=chunk_id,
                                   replace=ids.get(key))
    except Exception as exc:  # noqa: BLE001 - shown, not swallowed
        st.toast(f"Feedback not saved: {exc}", icon=":material/error:")
        return
    st.toast("Thanks — feedback saved" if value > 0 else "Thanks — noted", icon=":material/thumbs_up_down:")
