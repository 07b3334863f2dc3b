"""Fixtures for RAG tests: the real text embedder (shared across folders), R manuals, an OpenAI-compatible
HTTP server on 127.0.0.1 that answers with a canned reply and records what it was sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class ChatServer:
    """Where the test server listens, what it answers, and the requests it received."""

    url: str
    reply: str = "Hold the reset button for ten seconds [1]."
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A real HTTP server implementing POST /v1/chat/completions and /v1/completions (OpenAI wire format)."""
    state = ChatServer(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            state.requests.append((self.path, body))
            if state.status != 200:
                self._send(state.status, {"error": {"message": "server says no", "type": "server_error"}})
            elif self.path.endswith("/chat/completions"):
                self._send(200, _chat_reply(body, state.reply))
            elif self.path.endswith("/completions"):
                self._send(200, _completion_reply(body, state.reply))
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _usage() -> dict[str, int]:
    return {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}


def _chat_reply(body: dict[str, Any], reply: str) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": body.get("model", ""),
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}],
            "usage": _usage()}


def _completion_reply(body: dict[str, Any], reply: str) -> dict[str, Any]:
    return {"id": "cmpl-1", "object": "text_completion", "created": 0, "model": body.get("model", ""),
            "choices": [{"index": 0, "finish_reason": "stop", "text": reply, "logprobs": None}], "usage": _usage()}
