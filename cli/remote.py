"""Client mode: ``mmrag search|similar|ask|status --server URL`` (or ``MMRAG_SERVER``) ask a running
``mmrag serve`` instead of opening the library, and print the same output. The API key, when the server
needs one, comes from ``MMRAG_API_KEY``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..errors import MmragError

if TYPE_CHECKING:
    from ..retrieval.answer import Answer
    from ..retrieval.hits import Hit
    from ..serve.query import SearchParams

API_KEY_ENV = "MMRAG_API_KEY"
TIMEOUT_S = 600.0  # an answer from a local LLM can take minutes

ServerOption = Annotated[
    str | None,
    typer.Option("--server", envvar="MMRAG_SERVER",
                 help="URL of a running `mmrag serve` to ask instead of opening the library (key: $MMRAG_API_KEY)."),
]


class RemoteError(MmragError):
    """The server could not be reached or refused the request."""


def call(server: str, method: str, path: str, **request: Any) -> Any:
    """One request; the JSON answer, or RemoteError with the server's own message."""
    import httpx

    key = os.environ.get(API_KEY_ENV)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    url = server.rstrip("/") + path
    try:
        response = httpx.request(method, url, headers=headers, timeout=TIMEOUT_S, **request)
    except httpx.HTTPError as exc:
        raise RemoteError(f"cannot reach the mmrag server at {server}: {exc}") from None
    if response.status_code >= 400:
        try:
            message = response.json().get("error") or response.text
        except ValueError:
            message = response.text[:500]
        raise RemoteError(f"server {server} answered {response.status_code}: {message}")
    try:
        return response.json()
    except ValueError:
        raise RemoteError(f"server {server} sent an answer that is not JSON: {response.text[:200]!r}") from None


def search(server: str, params: SearchParams, image: Path | None) -> list[Hit]:
    from ..retrieval.hits import Hit

    fields = params.query_params()
    if image is None:
        rows = call(server, "GET", "/search", params=fields)
    else:
        try:
            data = image.read_bytes()
        except OSError as exc:
            raise RemoteError(f"cannot read query image {str(image)!r}: {exc}") from None
        rows = call(server, "POST", "/search", data=fields, files={"image": (image.name, data)})
    return [Hit(**row) for row in rows]


def similar(server: str, asset_id: int, k: int, folder: str | None) -> list[Hit]:
    from ..retrieval.hits import Hit

    params = {"k": k} | ({"folder": folder} if folder else {})
    return [Hit(**row) for row in call(server, "GET", f"/similar/{asset_id}", params=params)]


def ask(server: str, question: str, k: int | None, mode: str | None, filters: dict[str, Any]) -> Answer:
    from ..retrieval.answer import Answer, Citation
    from ..retrieval.hits import Hit

    named = {("tag" if name == "tags" else name): value for name, value in filters.items()}
    body = {"question": question, "k": k, "mode": mode, **named}
    data = call(server, "POST", "/ask", json={n: v for n, v in body.items() if v is not None})
    return Answer(text=data["text"], citations=[Citation(**c) for c in data["citations"]],
                  images=[Hit(**h) for h in data["images"]], question=data["question"], mode=data["mode"],
                  llm=data["llm"], answered=data["answered"])


def status(server: str) -> dict[str, Any]:
    return call(server, "GET", "/status")  # type: ignore[no-any-return]
