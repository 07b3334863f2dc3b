"""Write jobs over HTTP: ingest (only under serve.ingest_roots) with searches running meanwhile, generation
with provenance, and a server that picks up what another process ingested."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import httpx
import pytest
from conftest import Served, open_library, wait_job

pytestmark = pytest.mark.integration
TIMEOUT = 120  # seconds; a busy machine can take a while


def test_ingest_job_while_eight_clients_search(served: Served) -> None:
    batch = served.incoming / "batch"
    batch.mkdir()
    for name in ("rocket.jpg", "coffee.jpg", "clock.jpg", "moon.jpg", "coins.jpg", "chelsea.jpg"):
        shutil.copy(served.photos / name, batch / f"new-{name}")
    statuses: list[int] = []
    stop = threading.Event()

    def search_until_stopped() -> None:
        with served.client() as client:
            while not stop.is_set():
                statuses.append(client.get("/search", params={"text": "a rocket", "k": 5}).status_code)

    clients = [threading.Thread(target=search_until_stopped) for _ in range(8)]
    for thread in clients:
        thread.start()
    try:
        with served.client() as client:
            submitted = client.post("/ingest", json={"paths": [str(batch)]})
            assert submitted.status_code == 202 and submitted.headers["location"] == f"/jobs/{submitted.json()['id']}"
            job = wait_job(client, submitted.json())
    finally:
        stop.set()
        for thread in clients:
            thread.join(60)
    assert job["state"] == "done", job
    assert job["result"]["added"] == 6 and job["progress"]["done"] == job["progress"]["total"] == 6
    assert len(statuses) >= 8 and set(statuses) == {200}
    with served.client() as client:
        found = client.get("/search", params={"text": "x", "k": 50, "folder": str(batch)}).json()
        listed = client.get("/jobs").json()
    assert {Path(hit["path"]).name for hit in found} == {p.name for p in batch.iterdir()}
    assert listed[0]["id"] == job["id"]


@pytest.mark.parametrize(("path", "status", "words"), [
    ("/etc", 403, "outside the allowed folders"),
    ("{incoming}/../photos", 403, "outside the allowed folders"),
    ("{incoming}/../../../../../../etc", 403, "outside the allowed folders"),
    ("incoming/relative", 422, "not an absolute path"),
    ("{incoming}/link-out", 403, "outside the allowed folders"),
    ("{incoming}/nothing-here", 404, "does not exist"),
])
def test_ingest_refuses_paths_outside_the_roots(served: Served, path: str, status: int, words: str) -> None:
    link = served.incoming / "link-out"
    if not link.exists():
        link.symlink_to(served.photos, target_is_directory=True)
    with served.client() as client:
        response = client.post("/ingest", json={"paths": [path.format(incoming=served.incoming)]})
    assert response.status_code == status, response.text
    assert words in response.json()["error"]


def test_ingest_is_off_without_roots(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(served.state.settings.serve, "ingest_roots", [])
    with served.client() as client:
        response = client.post("/ingest", json={"paths": [str(served.incoming)]})
    assert response.status_code == 403 and "serve.ingest_roots" in response.json()["error"]


def test_generate_job_with_provenance(served: Served) -> None:
    request = {"prompt": "a red rocket", "mode": "txt2img", "steps": 2, "width": 64, "height": 64, "seed": 7}
    with served.client() as client:
        bad = client.post("/generate", json={**request, "mode": "paint"})
        submitted = client.post("/generate", json=request)
        assert submitted.status_code == 202, submitted.text
        job = wait_job(client, submitted.json())
        assert job["state"] == "done", job
        output = job["result"]["outputs"][0]
        meta = client.get(f"/assets/{output['asset_id']}").json()
        png = client.get(f"/assets/{output['asset_id']}/file")
    assert bad.status_code == 422 and "paint" in bad.json()["error"]
    assert output["seed"] == 7 and job["result"]["params"]["steps"] == 2
    assert meta["kind"] == "generated" and meta["generation"]["prompt"] == "a red rocket"
    assert meta["generation"]["seed"] == 7
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_generate_size_follows_the_model_and_missing_references_name_the_json_fields(served: Served) -> None:
    from mmrag.generation.request import TINY_SIDE

    with served.client() as client:  # the library's model is tiny-test: 64 px unless the body says otherwise
        submitted = client.post("/generate", json={"prompt": "a red rocket", "mode": "txt2img", "steps": 1})
        assert submitted.status_code == 202, submitted.text
        job = wait_job(client, submitted.json())
        no_refs = client.post("/generate", json={"prompt": "a red rocket", "mode": "img2img"})
    assert job["state"] == "done", job
    assert (job["result"]["params"]["width"], job["result"]["params"]["height"]) == (TINY_SIDE, TINY_SIDE)
    error = no_refs.json()["error"]
    assert no_refs.status_code == 422 and "'like'" in error and "'ref_ids'" in error and "--" not in error


def test_server_picks_up_what_another_writer_ingested(served: Served, tiny_clip: object,
                                                      text_embedder: object, tmp_path: Path) -> None:
    extra = served.incoming / "other-writer"
    extra.mkdir()
    shutil.copy(served.photos / "horse.png", extra / "horse-copy.png")
    other = open_library(served.lib.path, tiny_clip, text_embedder, ingest={"ocr": "off"})
    try:
        other.ingest([extra])
    finally:
        other.close()
    with served.client() as client:
        hits = client.get("/search", params={"text": "x", "k": 5, "folder": str(extra)}).json()
        by_image = client.post("/search", files={"image": ("h.png", (extra / "horse-copy.png").read_bytes())},
                               data={"k": "20"}).json()
    assert [Path(hit["path"]).name for hit in hits] == ["horse-copy.png"]
    assert str(extra / "horse-copy.png") in [hit["path"] for hit in by_image]


def test_unknown_job_is_404(served: Served) -> None:
    response = httpx.get(served.url + "/jobs/does-not-exist", timeout=TIMEOUT)
    assert response.status_code == 404 and "no job" in response.json()["error"]
