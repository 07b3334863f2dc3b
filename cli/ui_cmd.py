"""``mmrag ui``: start the Streamlit app over a library."""

import importlib.util
import signal
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..extras import missing
from .common import LibraryOption, app, console, fail, opened_library

if TYPE_CHECKING:
    from ..library import Library

APP_SCRIPT = Path(__file__).resolve().parent.parent / "ui" / "app.py"
MAX_UPLOAD_MB = 20


def streamlit_command(host: str, port: int, library: Path | None, max_upload_mb: int = MAX_UPLOAD_MB,
                      login: bool = False) -> list[str]:
    """The ``streamlit run`` command line for the app; the library travels after ``--`` as ``--library``, and
    ``--login`` (every browser session signs in with an API key) when ``login``."""
    command = [
        sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT),
        "--server.address", host,
        "--server.port", str(port),
        "--server.headless", "true",
        "--server.maxUploadSize", str(max_upload_mb),
        "--server.fileWatcherType", "none",
        "--browser.gatherUsageStats", "false",
        "--client.toolbarMode", "minimal",
        "--",
    ]  # fmt: skip
    if library is not None:
        command += ["--library", str(library)]
    return command + (["--login"] if login else [])


@app.command()
def ui(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8501,
    library: LibraryOption = None,
    max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", min=1, help="Largest upload (MB).")] = MAX_UPLOAD_MB,
) -> None:
    """Start the web app (search, ask, generate, library) over a library; Ctrl+C stops it.

    On loopback (the default) no login is asked. On any other address every browser session signs in with an
    API key of the library (`mmrag keys add NAME`); without an active key the app does not start."""
    if importlib.util.find_spec("streamlit") is None:  # the server would die with a traceback in its own process
        fail(missing("streamlit"))
    from ..serve.addresses import is_loopback
    login = not is_loopback(host)
    with opened_library(library, create=True) as lib:  # fail here, with a clean message, not in the browser
        path = lib.path
        keys = _active_keys(lib) if login else 0
    if login and keys == 0:
        fail(f"listening on {host} needs a login, and library {path} has no active API key: make one with "
             f"`mmrag keys add NAME --library {path}` (users sign in with it), or listen on 127.0.0.1")
    console.print(f"mmrag ui: library {path} on http://{host}:{port}", soft_wrap=True, highlight=False)
    if login:
        console.print(f"login required: {host} is not loopback, so each browser signs in with an API key of the "
                      f"library ({keys} active; `mmrag keys list`)", soft_wrap=True, highlight=False)
    raise typer.Exit(run_server(streamlit_command(host, port, path, max_upload_mb, login=login)))


def _active_keys(lib: "Library") -> int:
    from ..serve.keys import active_key_count

    return active_key_count(lib.catalog)


def run_server(command: list[str]) -> int:
    """Run the server until it exits. Ctrl+C reaches it directly (same process group); a SIGTERM sent to
    this process is passed on, so stopping ``mmrag ui`` never leaves the server behind."""
    process = subprocess.Popen(command)
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: process.terminate())
    try:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:  # the server got the same SIGINT and is shutting down
                continue
    finally:
        signal.signal(signal.SIGTERM, previous)
