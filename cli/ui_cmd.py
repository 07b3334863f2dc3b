"""``mmrag ui``: start the Streamlit app over a library."""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from ..extras import missing
from .common import LibraryOption, app, console, fail, open_library

APP_SCRIPT = Path(__file__).resolve().parent.parent / "ui" / "app.py"
MAX_UPLOAD_MB = 20


def streamlit_command(host: str, port: int, library: Path | None, max_upload_mb: int = MAX_UPLOAD_MB) -> list[str]:
    """The ``streamlit run`` command line for the app; the library travels after ``--`` as ``--library``."""
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
    return command


@app.command()
def ui(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8501,
    library: LibraryOption = None,
    max_upload_mb: Annotated[int, typer.Option("--max-upload-mb", min=1, help="Largest upload (MB).")] = MAX_UPLOAD_MB,
) -> None:
    """Start the web app (search, ask, generate, library) over a library; Ctrl+C stops it."""
    if importlib.util.find_spec("streamlit") is None:  # the server would die with a traceback in its own process
        fail(missing("streamlit"))
    lib = open_library(library, create=True)  # fail here, with a clean message, rather than in the browser
    path = lib.path
    lib.close()
    if host not in ("127.0.0.1", "localhost", "::1"):
        console.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach it can search and ingest")
    console.print(f"mmrag ui: library {path} on http://{host}:{port}", soft_wrap=True, highlight=False)
    raise typer.Exit(run_server(streamlit_command(host, port, path, max_upload_mb)))


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
