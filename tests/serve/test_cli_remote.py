"""`mmrag search|similar|ask|status --server URL` print what the local commands print; `mmrag serve` as a
real process answers /health and /search."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from conftest import Served, free_port
from typer.testing import CliRunner

from mmrag.cli import app

pytestmark = pytest.mark.integration


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MMRAG_DEVICE", "cpu")
    # the served library holds the session's torch text model; local questions on it too, not on an ONNX export
    # (equal to 1e-4, not to the printed 6th decimal)
    monkeypatch.setenv("MMRAG_TEXT_RUNTIME", "torch")
    runner = CliRunner()

    def invoke(*args: str) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == 0, result.output
        return result.stdout

    return invoke


def test_remote_output_equals_local(served: Served, cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    local = ["--library", str(served.lib.path)]
    remote = ["--server", served.url]
    rocket = str(served.photos / "rocket.jpg")
    for command in (["search", "a cup of coffee", "-k", "4"], ["search", "--image", rocket, "-k", "3"],
                    ["search", "espresso", "--kind", "text", "-k", "2"], ["similar", "1", "-k", "3"],
                    ["ask", "How long does a good espresso shot take?"]):
        for extra in ([], ["--json"]):
            assert cli(*command, *extra, *remote) == cli(*command, *extra, *local), command
    monkeypatch.setenv("MMRAG_SERVER", served.url)
    from_env = json.loads(cli("status", "--json"))
    local_status = json.loads(cli("status", "--json", *local))
    for key in ("library", "assets", "total", "chunks", "vectors", "models"):
        assert from_env[key] == local_status[key], key


def test_remote_errors_are_clean(served: Served, cli) -> None:  # type: ignore[no-untyped-def]
    runner = CliRunner()
    bad = runner.invoke(app, ["search", "x", "-k", "0", "--server", served.url])
    assert bad.exit_code == 1 and "k must be between" in bad.output and "Traceback" not in bad.output
    down = runner.invoke(app, ["status", "--server", f"http://127.0.0.1:{free_port()}"])
    assert down.exit_code == 1 and "cannot reach the mmrag server" in down.output
    llm = runner.invoke(app, ["ask", "q", "--llm", "llama-cpp", "--server", served.url])
    assert llm.exit_code == 1 and "server's settings" in llm.output


def test_mmrag_serve_process(served: Served) -> None:
    port = free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MMRAG_DEVICE": "cpu"}
    process = subprocess.Popen([sys.executable, "-m", "mmrag", "serve", "--library", str(served.lib.path),
                                "--port", str(port), "--log-level", "warning"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline, health = time.monotonic() + 300, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(url + "/health", timeout=30)
                if health.status_code == 200:
                    break
                assert health.json()["status"] == "loading"
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        assert health is not None and health.status_code == 200, process.stderr.read() if process.poll() else ""
        hits = httpx.get(url + "/search", params={"text": "a rocket", "k": 3}, timeout=120).json()
        assert hits == httpx.get(served.url + "/search", params={"text": "a rocket", "k": 3}, timeout=120).json()
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(60)
    assert "Traceback" not in process.stderr.read()
