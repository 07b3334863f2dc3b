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

if TYPE_CHECKING:
    from ..library import Library

LOGIN_FLAG = "--login"
SECRET = "access.secret"  # the signed-in key, kept server-side in the session only
FAILED_PAUSE_S = 1.0  # after a wrong key: slows guessing down


def login_required(argv: Sequence[str] | None = None) -> bool:
    """The app was started with ``--login`` (after ``--`` on the ``streamlit run`` command line)."""
    return LOGIN_FLAG in (sys.argv[1:] if argv is None else argv)


def signed_in(lib: Library) -> str | None:
    """The name of the session's key while it is active, else None."""
    from ..serve.keys import find_key

    secret = st.session_state.get(SECRET)
    info = find_key(lib.catalog, secret) if secret else None
    return info.name if info is not None else None


def gate(lib: Library) -> None:
    """Stop the run at a sign-in form unless no login is needed or the session holds an active key."""
    if not login_required():
        return
    name = signed_in(lib)
    if name is not None:
        st.sidebar.caption(f"Signed in with key {name!r}")
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
