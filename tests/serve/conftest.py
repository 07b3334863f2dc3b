"""A real uvicorn server on 127.0.0.1 (a free port, in a thread) over a library of real photos and one
document, with the tiny CLIP model and the session's MiniLM text embedder; clients are httpx."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

DOCUMENT = """# Coffee notes

Espresso is brewed by forcing hot water through finely ground coffee beans. A good shot takes 25 seconds.

## Rockets

A rocket engine burns propellant to make thrust; the Saturn V carried astronauts to the Moon.
"""


@dataclass
class Served:
    url: str
    lib: Any
    state: Any
    photos: Path
    incoming: Path  # an ingest root

    def client(self, key: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(lib: Any, *, require_keys: bool = False) -> tuple[str, Any, Callable[[], None]]:
    """uvicorn.Server in a thread on a free port; returns (url, state, stop) once /health answers 200."""
    import uvicorn

    from mmrag.serve.app import create_app
    from mmrag.serve.state import ServeState

    state = ServeState(lib, require_keys=require_keys)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health", timeout=5).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        raise RuntimeError(f"server at {url} did not become healthy: {state.load_error}")

    def stop() -> None:
        server.should_exit = True
        thread.join(30)

    return url, state, stop


def open_library(path: Path, tiny_clip: Any, text_embedder: Any, **overrides: Any) -> Any:
    from mmrag import Library

    return Library(path, clip=tiny_clip, text_embedder=text_embedder, clip_model="tiny-test", device="cpu",
                   **overrides)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, sample_photos: Path, tiny_clip: Any,
           text_embedder: Any) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    photos = root / "photos"
    shutil.copytree(sample_photos, photos)
    shutil.copy(photos / "coffee.jpg", photos / "coffee-copy.jpg")  # a duplicate pair
    (photos / "notes.md").write_text(DOCUMENT, encoding="utf-8")
    incoming = root / "incoming"
    incoming.mkdir()
    lib = open_library(root / "library", tiny_clip, text_embedder, serve={"ingest_roots": [str(incoming)]},
                       ingest={"ocr": "off"}, generation={"model": "tiny-test"})
    lib.ingest([photos])
    url, state, stop = start_server(lib)
    yield Served(url, lib, state, photos, incoming)
    stop()
    lib.close()


def wait_job(client: httpx.Client, job: dict[str, Any], timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = client.get(f"/jobs/{job['id']}").json()
        if current["state"] in ("done", "failed"):
            return current  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"job {job['id']} did not finish in {timeout}s")
