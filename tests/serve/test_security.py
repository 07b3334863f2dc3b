"""API keys against a real server: 401 without or with a bad/revoked key, 403 for a read key on write
endpoints; keys stored hashed; `mmrag serve --host 0.0.0.0` without keys refuses to start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import open_library, start_server
from sqlalchemy import text
from typer.testing import CliRunner

from mmrag.catalog import Catalog
from mmrag.cli import app
from mmrag.serve.keys import add_key, find_key, revoke_key
from mmrag.serve.server import BindRefusedError, check_binding

pytestmark = pytest.mark.integration
TIMEOUT = 120  # seconds; a busy machine can take a while


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory, sample_photos: Path, tiny_clip: Any,
            text_embedder: Any) -> Iterator[tuple[str, Any, dict[str, str]]]:
    root = tmp_path_factory.mktemp("guarded")
    photos = root / "photos"
    photos.mkdir()
    for name in ("rocket.jpg", "coffee.jpg"):
        (photos / name).write_bytes((sample_photos / name).read_bytes())
    lib = open_library(root / "library", tiny_clip, text_embedder, ingest={"ocr": "off"},
                       serve={"ingest_roots": [str(photos)]})
    lib.ingest([photos])
    keys = {scope: add_key(lib.catalog, f"{scope}-client", scope)[0] for scope in ("read", "write")}
    url, _state, stop = start_server(lib)
    yield url, lib, keys
    stop()
    lib.close()


def test_no_key_or_a_wrong_key_is_401(guarded: tuple[str, Any, dict[str, str]]) -> None:
    url, _lib, keys = guarded
    assert httpx.get(url + "/health", timeout=TIMEOUT).status_code == 200  # probes need no key
    for headers in ({}, {"Authorization": "Bearer mmrag_wrong"}, {"X-API-Key": keys["read"] + "x"},
                    {"Authorization": "Basic dXNlcjpwYXNz"}):
        response = httpx.get(url + "/search", params={"text": "rocket"}, headers=headers, timeout=TIMEOUT)
        assert response.status_code == 401, headers
        assert response.json()["error"] and response.headers["www-authenticate"] == "Bearer"


def test_read_key_reads_but_cannot_write(guarded: tuple[str, Any, dict[str, str]]) -> None:
    url, lib, keys = guarded
    read = {"Authorization": f"Bearer {keys['read']}"}
    assert httpx.get(url + "/search", params={"text": "rocket"}, headers=read, timeout=TIMEOUT).status_code == 200
    assert httpx.get(url + "/status", headers={"X-API-Key": keys["read"]}, timeout=TIMEOUT).status_code == 200
    for method, path, body in (("POST", "/ingest", {"paths": ["/tmp"]}), ("POST", "/generate", {"prompt": "x"}),
                               ("POST", "/assets/1/tags", {"add": ["a"]}), ("DELETE", "/assets/1", None)):
        response = httpx.request(method, url + path, json=body, headers=read, timeout=TIMEOUT)
        assert response.status_code == 403, (path, response.text)
        assert "needs the 'write' scope" in response.json()["error"]
    write = {"Authorization": f"Bearer {keys['write']}"}
    tagged = httpx.post(url + "/assets/1/tags", json={"add": ["space"]}, headers=write, timeout=TIMEOUT)
    assert tagged.status_code == 200 and tagged.json()["tags"] == ["space"]
    tagged_only = httpx.get(url + "/search", params={"text": "x", "tag": "space"}, headers=write, timeout=TIMEOUT)
    assert [hit["id"] for hit in tagged_only.json()] == [1]


def test_revoked_key_is_refused_at_once(guarded: tuple[str, Any, dict[str, str]]) -> None:
    url, lib, _keys = guarded
    secret, _info = add_key(lib.catalog, "short-lived", "read")
    headers = {"Authorization": f"Bearer {secret}"}
    assert httpx.get(url + "/status", headers=headers, timeout=TIMEOUT).status_code == 200
    revoke_key(lib.catalog, "short-lived")
    time.sleep(1.1)  # the server re-reads the active keys every second
    assert httpx.get(url + "/status", headers=headers, timeout=TIMEOUT).status_code == 401


def test_keys_are_stored_hashed(guarded: tuple[str, Any, dict[str, str]]) -> None:
    _url, lib, keys = guarded
    with lib.catalog.engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM api_keys")) for v in row)
    assert keys["read"] not in stored and keys["write"] not in stored
    assert find_key(lib.catalog, keys["write"]).scopes == ("read", "write")  # type: ignore[union-attr]


def test_keys_cli_add_list_revoke(tmp_path: Path) -> None:
    import json

    runner = CliRunner()
    library = ["--library", str(tmp_path / "lib")]
    not_yet = runner.invoke(app, ["keys", "add", "ci", *library])
    assert not_yet.exit_code == 1 and "is not an mmrag library" in not_yet.output
    Catalog(f"sqlite:///{tmp_path / 'lib' / 'catalog.sqlite'}").dispose()
    made = runner.invoke(app, ["keys", "add", "ci", "--scope", "write", "--json", *library])
    assert made.exit_code == 0, made.output
    secret = json.loads(made.stdout)["key"]
    listed = runner.invoke(app, ["keys", "list", "--json", *library])
    rows = json.loads(listed.stdout)
    assert rows[0]["name"] == "ci" and rows[0]["scopes"] == ["read", "write"] and secret not in listed.stdout
    assert runner.invoke(app, ["keys", "revoke", "ci", *library]).exit_code == 0
    assert json.loads(runner.invoke(app, ["keys", "list", "--json", *library]).stdout)[0]["active"] is False
    bad = runner.invoke(app, ["keys", "add", "x", "--scope", "admin", *library])
    assert bad.exit_code == 1 and "valid scopes: read, write" in bad.output
    missing = runner.invoke(app, ["keys", "revoke", "nobody", *library])
    assert missing.exit_code == 1 and "no API key named 'nobody'" in missing.output


def test_binding_beyond_loopback_needs_keys() -> None:
    check_binding("127.0.0.1", 0)
    check_binding("::1", 0)
    check_binding("0.0.0.0", 1)
    for host in ("0.0.0.0", "::", "192.168.1.10"):
        with pytest.raises(BindRefusedError, match="no API key"):
            check_binding(host, 0)


def test_serve_on_all_interfaces_without_keys_refuses_to_start(tmp_path: Path) -> None:
    Catalog(f"sqlite:///{tmp_path / 'lib' / 'catalog.sqlite'}").dispose()
    env = {**os.environ, "MMRAG_CLIP_MODEL": "tiny-test", "MMRAG_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-m", "mmrag", "serve", "--library", str(tmp_path / "lib"),
                             "--host", "0.0.0.0", "--port", "0"], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode != 0
    assert "refusing to listen on 0.0.0.0" in result.stderr and "mmrag keys add" in result.stderr
    assert "Traceback" not in result.stderr
