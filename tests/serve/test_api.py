"""Every endpoint of a real server over a real library: search, similar, duplicates, assets, ask, status,
metrics, health, OpenAPI; uploads that are too big, not images or broken; paths that try to escape."""

from __future__ import annotations

import http.client
import io
import json
import struct
import zlib
from pathlib import Path

import pytest
from conftest import Served
from PIL import Image

pytestmark = pytest.mark.integration


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` (the pixel data never comes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"")


def _id_of(served: Served, name: str) -> int:
    from sqlalchemy import select

    from mmrag.catalog import Asset

    with served.lib.catalog.session() as session:
        return int(session.execute(select(Asset.id).where(Asset.path == str(served.photos / name))).scalar_one())


def test_health_docs_and_openapi(served: Served) -> None:
    with served.client() as client:
        assert client.get("/health").json()["status"] == "ok"
        assert client.get("/docs").status_code == 200
        paths = client.get("/openapi.json").json()["paths"]
    for path in ("/health", "/search", "/similar/{asset_id}", "/duplicates", "/assets/{asset_id}",
                 "/assets/{asset_id}/thumbnail", "/assets/{asset_id}/file", "/ask", "/generate", "/ingest",
                 "/jobs/{job_id}", "/status", "/metrics"):
        assert path in paths


def test_text_search_gives_the_library_json(served: Served) -> None:
    with served.client() as client:
        response = client.get("/search", params={"text": "a cup of coffee", "k": 5})
    assert response.status_code == 200
    expected = [hit.to_dict() for hit in served.lib.search_text("a cup of coffee", k=5)]
    assert response.json() == expected and len(expected) == 5


def test_search_filters_kind_and_passages(served: Served) -> None:
    with served.client() as client:
        jpgs = client.get("/search", params={"text": "photo", "k": 50, "folder": str(served.photos)}).json()
        passages = client.get("/search", params={"text": "espresso coffee", "kind": "text", "k": 2}).json()
        bad_k = client.get("/search", params={"text": "x", "k": 0})
        bad_kind = client.get("/search", params={"text": "x", "kind": "video"})
        nothing = client.get("/search")
    assert len(jpgs) == 16 and all(hit["path"].startswith(str(served.photos)) for hit in jpgs)
    assert passages and passages[0]["path"].endswith("notes.md") and "Espresso" in passages[0]["text"]
    for response in (bad_k, bad_kind, nothing):
        assert response.status_code == 422 and response.json()["error"]
    assert "k must be between" in bad_k.json()["error"]
    assert "valid kinds" in bad_kind.json()["error"]


def test_upload_search_and_combined_query(served: Served) -> None:
    data = (served.photos / "rocket.jpg").read_bytes()
    with served.client() as client:
        by_image = client.post("/search", files={"image": ("rocket.jpg", data, "image/jpeg")}, data={"k": "3"})
        combined = client.post("/search", files={"image": ("rocket.jpg", data)},
                               data={"text": "a rocket", "image_weight": "0.7", "negative": "a cat", "k": "3",
                                     "folder": str(served.photos)})
        negative_only = client.post("/search", data={"text": "coffee", "negative": "a cat", "k": "2"})
    assert by_image.status_code == 200 and by_image.json()[0]["path"].endswith("rocket.jpg")
    expected = served.lib.search(text="a rocket", image=served.photos / "rocket.jpg", image_weight=0.7,
                                 negative="a cat", k=3, filters={"folder": str(served.photos)})
    assert combined.json() == [hit.to_dict() for hit in expected]
    assert negative_only.status_code == 200 and len(negative_only.json()) == 2


@pytest.mark.parametrize(("payload", "status", "words"), [
    (b"x" * (2 * 1024 * 1024 + 1), 413, "larger than the server's limit"),
    (b"%PDF-1.4 this is not a picture", 415, "not an image"),
    (_png_header(50_000, 50_000), 413, "too many pixels"),  # beyond Pillow's own bomb limit
    (_png_header(9_000, 9_000), 413, "the server's limit is 40,000,000"),
    (b"", 422, "empty"),
])
def test_bad_uploads_get_clear_json_errors(served: Served, payload: bytes, status: int, words: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served.state.settings.serve, "max_upload_bytes", 2 * 1024 * 1024)
    with served.client() as client:
        response = client.post("/search", files={"image": ("upload.bin", payload)})
    assert response.status_code == status, response.text
    assert words in response.json()["error"] and "Traceback" not in response.text


def test_huge_bodies_are_refused_before_they_are_read(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served.state.settings.serve, "max_upload_bytes", 1024)
    with served.client() as client:
        declared = client.post("/search", files={"image": ("big.jpg", b"x" * (3 << 20))})
        chunked = client.post("/ask", content=(b"x" * 65536 for _ in range(64)),
                              headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "request body of" in declared.json()["error"]
    assert chunked.status_code == 413 and "larger than the server's limit" in chunked.json()["error"]


def test_truncated_image_is_422(served: Served) -> None:
    buffer = io.BytesIO()
    Image.effect_noise((300, 200), 60).convert("RGB").save(buffer, "JPEG")
    data = buffer.getvalue()
    with served.client() as client:
        response = client.post("/search", files={"image": ("cut.jpg", data[: len(data) // 2])})
    assert response.status_code == 422 and "truncated or corrupt" in response.json()["error"]


def test_similar_duplicates_and_missing_items(served: Served) -> None:
    coffee = _id_of(served, "coffee.jpg")
    with served.client() as client:
        similar = client.get(f"/similar/{coffee}", params={"k": 3}).json()
        duplicates = client.get("/duplicates")
        missing = client.get("/similar/999999")
        huge = client.get(f"/similar/{2**70}")
    assert len(similar) == 3 and coffee not in [hit["id"] for hit in similar]
    assert duplicates.status_code == 200, duplicates.text
    groups = duplicates.json()
    assert any({Path(p).name for p in group["paths"]} == {"coffee.jpg", "coffee-copy.jpg"} for group in groups)
    assert missing.status_code == 404 and "no library item" in missing.json()["error"]
    assert huge.status_code in (404, 422) and "error" in huge.json()


def test_asset_metadata_thumbnail_and_file(served: Served) -> None:
    rocket = _id_of(served, "rocket.jpg")
    with served.client() as client:
        meta = client.get(f"/assets/{rocket}").json()
        thumb = client.get(f"/assets/{rocket}/thumbnail")
        original = client.get(f"/assets/{rocket}/file")
        gone = client.get("/assets/999999/file")
    assert meta["path"] == str(served.photos / "rocket.jpg") and meta["kind"] == "image" and meta["generation"] is None
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.content)).size[0] <= 256
    assert original.content == (served.photos / "rocket.jpg").read_bytes()
    assert gone.status_code == 404


@pytest.mark.parametrize("path", [
    "/assets/..%2F..%2F..%2Fetc%2Fpasswd/file",
    "/assets/1/file/../../../../etc/passwd",
    "/assets/%2e%2e/%2e%2e/etc/passwd",
    "/assets/-1/file",
    "/assets/1%00/file",
    "/assets/1/thumbnail/..%2F..%2F..%2Fcatalog.sqlite",
])
def test_path_traversal_never_reads_outside_the_catalog(served: Served, path: str) -> None:
    status, body = _raw_get(served.url, path)
    assert status in (404, 422), (path, status)
    assert b"root:" not in body and b"SQLite" not in body
    assert json.loads(body)["error"]


def _raw_get(url: str, path: str) -> tuple[int, bytes]:
    """GET with the request target sent as written (HTTP clients normalise "../" away)."""
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_ask_with_citations(served: Served) -> None:
    with served.client() as client:
        answer = client.post("/ask", json={"question": "How long does a good espresso shot take?"}).json()
        empty = client.post("/ask", json={"question": "   "})
    assert answer["citations"] and answer["citations"][0]["path"].endswith("notes.md")
    assert "25 seconds" in answer["text"] and answer["llm"] == "extractive"
    assert empty.status_code == 422


def test_status_and_metrics(served: Served) -> None:
    with served.client() as client:
        client.get("/search", params={"text": "clock"})
        status = client.get("/status").json()
        metrics = client.get("/metrics").text
    assert status["assets"]["image"] == 16 and status["library"] == str(served.lib.path)
    assert 'mmrag_http_requests_total{method="GET",route="/search",status="200"}' in metrics
    assert 'mmrag_http_request_duration_seconds_bucket{le="0.1",method="GET",route="/search"}' in metrics
