"""The hub probe: a real TCP listener on 127.0.0.1 stands in for the hub endpoint (HF_ENDPOINT)."""

from __future__ import annotations

import socket
import time

import pytest

from mmrag.models.hub import hub_reachable


def _listener() -> socket.socket:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    return server


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def test_each_call_probes_afresh(online: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """No process-wide memory: the hub going away (or coming back) is seen by the next call."""
    server = _listener()
    port = server.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    try:
        assert hub_reachable() is True
        assert hub_reachable() is True
    finally:
        server.close()
    assert hub_reachable() is False, "a closed endpoint must be seen as unreachable by the next probe"
    again = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        again.bind(("127.0.0.1", port))
    except OSError:
        pytest.skip(f"port {port} was taken by another process before it could be reopened")
    again.listen(1)
    try:
        assert hub_reachable() is True, "a hub that comes back must be seen by the next probe"
    finally:
        again.close()


def test_offline_flag_answers_at_once_without_connecting(monkeypatch: pytest.MonkeyPatch) -> None:
    server = _listener()
    server.setblocking(False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.getsockname()[1]}")
    try:
        for value in ("1", "true", "ON"):
            monkeypatch.setenv("HF_HUB_OFFLINE", value)
            assert hub_reachable() is False
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected
    finally:
        server.close()


def test_an_unreachable_endpoint_fails_within_the_timeout(online: None, monkeypatch: pytest.MonkeyPatch) -> None:
    unused = _listener()
    port = unused.getsockname()[1]
    unused.close()  # a free port: connections are refused
    monkeypatch.setenv("HF_ENDPOINT", f"https://127.0.0.1:{port}")
    started = time.monotonic()
    assert hub_reachable(timeout=5.0) is False
    assert time.monotonic() - started < 30
