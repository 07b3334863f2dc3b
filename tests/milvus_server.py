"""Pytest plugin: a real Milvus server process for the Milvus backend's tests.

``milvus_uri`` (session scope) starts ``milvus-lite server`` (the pure-Python Milvus from PyPI, speaking the same
gRPC protocol as a Milvus cluster) on 127.0.0.1 at a free port with its data in a temporary folder, waits until
it answers, and stops it at the end of the session. ``MMRAG_TEST_MILVUS_URI`` points the tests at a server
someone else runs instead. Without the ``milvus`` extra the tests are skipped, except in CI (``CI=true``),
where they fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg import in_ci

ENV_VAR = "MMRAG_TEST_MILVUS_URI"
START_TIMEOUT_S = 120.0


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"Milvus is required in CI (CI=true): {reason}", pytrace=False)
    pytest.skip(f"Milvus tests skipped: {reason} (pip install -e '.[milvus]')")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_command() -> list[str]:
    script = Path(sys.executable).with_name("milvus-lite")
    return [str(script)] if script.exists() else [shutil.which("milvus-lite") or "milvus-lite"]


def _wait_ready(uri: str, process: subprocess.Popen[bytes], log: Path) -> None:
    from pymilvus import MilvusClient

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"milvus-lite server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            MilvusClient(uri=uri, timeout=5, grpc_options={"grpc.keepalive_time_ms": 300_000}).list_collections()
            return
        except Exception:  # noqa: BLE001 - not listening yet
            time.sleep(0.5)
    raise RuntimeError(f"milvus-lite server did not answer within {START_TIMEOUT_S:.0f} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError as exc:
        _unavailable(f"{exc.name} is not installed")
    if os.environ.get(ENV_VAR):
        yield os.environ[ENV_VAR]
        return
    folder = tmp_path_factory.mktemp("milvus")
    port = _free_port()
    log = folder / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*_server_command(), "server", "--data-dir", str(folder / "data"), "--host", "127.0.0.1",
             "--port", str(port)], stdout=out, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(uri, process, log)
        yield uri
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
