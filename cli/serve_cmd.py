"""``mmrag serve``: the REST service over one library (FastAPI + uvicorn; docs at /docs)."""

from typing import Annotated

import typer

from .common import LibraryOption, app, console, fail, require_library

SERVE_MODULES = ("fastapi", "uvicorn", "multipart", "python_multipart", "prometheus_client", "starlette")


@app.command()
def serve(
    library: LibraryOption = None,
    host: Annotated[str | None, typer.Option("--host", help="Address to bind (default serve.host, 127.0.0.1); "
                                             "any other than loopback needs API keys.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default serve.port, 8765).")] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve the library over HTTP: models and indexes stay loaded; OpenAPI docs at /docs."""
    from ..serve.server import serve as run_server
    from ..settings import Settings

    try:
        require_library(library)
        settings = Settings(**({"library": library} if library is not None else {}))
        host = host or settings.serve.host
        port = settings.serve.port if port is None else port
        console.print(f"serving {settings.library} on http://{host}:{port} (docs: /docs, health: /health)",
                      highlight=False)
        run_server(settings, host=host, port=port, log_level=log_level)
    except ModuleNotFoundError as exc:
        if exc.name not in SERVE_MODULES:
            raise
        fail(f"mmrag serve needs {exc.name}, which is not installed: pip install 'mmrag[serve]'")
    except Exception as exc:  # noqa: BLE001 - fail() prints known errors cleanly and re-raises the rest
        fail(exc)
