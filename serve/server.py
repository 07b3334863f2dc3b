"""Start the service: check the binding against the keys, build the state, run uvicorn."""

from __future__ import annotations

from ..errors import MmragError
from ..settings import Settings
from .addresses import is_loopback
from .keys import active_key_count


class BindRefusedError(MmragError):
    """The server would listen beyond this machine without any API key to protect it."""


def check_binding(host: str, active_keys: int) -> None:
    if not is_loopback(host) and active_keys == 0:
        raise BindRefusedError(
            f"refusing to listen on {host}: other machines could reach the library with no API key. "
            "Make a key first (`mmrag keys add NAME --scope read`), or bind to 127.0.0.1 (the default)"
        )


def serve(settings: Settings, *, host: str, port: int, log_level: str = "info") -> None:
    """Open the library, load it (in the background; /health says when) and serve until interrupted."""
    import uvicorn

    from ..library import Library
    from .app import create_app
    from .state import ServeState

    lib = Library(settings)
    try:
        check_binding(host, active_key_count(lib.catalog))
        state = ServeState(lib, require_keys=not is_loopback(host))
        uvicorn.run(create_app(state), host=host, port=port, log_level=log_level, access_log=False)
    finally:
        lib.close()
