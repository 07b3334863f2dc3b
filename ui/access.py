"""Who may use the web app. On loopback (``mmrag ui``'s default) anyone on this machine may. On any other
address ``mmrag ui`` starts the app with ``--login`` after ``--``, and every browser session must first sign in
with an active API key of the library (``mmrag keys add NAME``; ``serve.keys`` keeps them hashed in the
catalog). The key is checked again on every run, so a revoked key is refused at its next click.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import streamlit as st

from .components import md_escape

if TYPE_CHECKING:
    from ..library import Library
    from ..serve.keys import KeyInfo

LOGIN_FLAG = "--login"
SECRET = "access.secret"  # the signed-in key, kept server-side in the session only
FAILED_PAUSE_S = 1.0  # after a wrong key: slows guessing down


def login_required(argv: Sequence[str] | None = None) -> bool:
    """The app was started with ``--login`` (after ``--`` on the ``streamlit run`` command line)."""
    return LOGIN_FLAG in (sys.argv[1:] if argv is None else argv)


def signed_in(lib: Library) -> KeyInfo | None:
    """The session's key while it is active, else None."""
    from ..serve.keys import find_key

    secret = st.session_state.get(SECRET)
    return find_key(lib.catalog, secret) if secret else None


def write_refusal(lib: Library) -> str | None:
    """None when this session may change the library (no login needed, or its key has the ``write`` scope, as
    REST asks of ingest, generate, tag and remove); else why not. Pages ask it to disable their write controls
    and ask again in each write handler, so a disabled button is never the only guard."""
    from ..serve.keys import WRITE

    if not login_required():
        return None
    key = signed_in(lib)
    if key is None:
        return "this session is signed out (its key is unknown or was revoked); sign in again"
    return None if key.allows(WRITE) else key.refusal(WRITE)


def refused(lib: Library, what: str) -> str | None:
    """For a write handler (the server-side check behind a disabled control): None when this session may
    write, else the message to show, ``what`` (what did not happen) and why."""
    reason = write_refusal(lib)
    return None if reason is None else f"{what}: {_shown(reason)}."


def refuse(lib: Library, what: str) -> bool:
    """:func:`refused` for a handler that runs in the page: True, with the message shown, when refused."""
    message = refused(lib, what)
    if message is not None:
        st.error(message, icon=":material/lock:")
    return message is not None


def read_only_note(reason: str | None, what: str) -> None:
    """Under a write control that ``reason`` disables: say what is off and why."""
    if reason is not None:
        st.caption(f":material/lock: {what}: not with this key. {_shown(reason)}.")


def _shown(reason: str) -> str:
    """The refusal as Markdown: escaped (it holds the key's name), its command kept as inline code."""
    return md_escape(reason).replace("\\`", "`")


def gate(lib: Library) -> None:
    """Stop the run at a sign-in form unless no login is needed or the session holds an active key."""
    from ..serve.keys import WRITE

    if not login_required():
        return
    key = signed_in(lib)
    if key is not None:
        scope = "" if key.allows(WRITE) else " · read-only"
        st.sidebar.caption(f"Signed in with key '{md_escape(key.name)}'{scope}")
        st.sidebar.button("Sign out", key="access.sign_out", on_click=st.session_state.pop, args=(SECRET, None),
                          icon=":material/logout:", type="tertiary")
        return
    sign_in_form(lib)
    st.stop()


def sign_in_form(lib: Library) -> None:
    from ..serve.keys import find_key

    st.title("Sign in")
    st.caption("This server is reachable from other machines, so it asks for an API key of the library. The "
               "operator makes one with `mmrag keys add NAME`.")
    if st.session_state.pop(SECRET, None):
        st.warning("The key you signed in with is no longer valid (revoked).", icon=":material/key_off:")
    with st.form("access.form"):
        secret = st.text_input("API key", type="password", key="access.input", placeholder="mmrag_…")
        submitted = st.form_submit_button("Sign in", type="primary", icon=":material/login:")
    if not submitted:
        return
    secret = (secret or "").strip()
    if not secret:
        st.error("Paste your key in **API key** first.", icon=":material/edit:")
        return
    if find_key(lib.catalog, secret) is None:
        time.sleep(FAILED_PAUSE_S)
        st.error("This key is not valid: it is unknown or was revoked (see `mmrag keys list`).",
                 icon=":material/key_off:")
        return
    st.session_state[SECRET] = secret
    st.rerun()
