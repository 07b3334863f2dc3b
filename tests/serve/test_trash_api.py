"""The trash over HTTP on a real uvicorn server: a copy under an ingest root goes to the trash and leaves
search, comes back on restore; a file outside the library's folders is refused (422) and stays."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import Served


def _id_of(served: Served, path: Path) -> int:
    with served.client() as client:
        hits = client.get("/search", params={"text": "coffee", "k": 100}).json()
    return next(int(h["id"]) for h in hits if h["path"] == path.as_posix())


def test_trash_list_and_restore_over_http(served: Served) -> None:
    copy = served.incoming / "coffee-again.jpg"
    shutil.copy(served.photos / "coffee.jpg", copy)
    served.lib.ingest([served.incoming])
    copy_id = _id_of(served, copy)
    keep_id = _id_of(served, served.photos / "coffee.jpg")

    with served.client() as client:
        moved = client.post("/trash", json={"ids": [copy_id], "keep": keep_id})
        assert moved.status_code == 200, moved.text
        [entry] = moved.json()
        assert entry["asset_id"] == copy_id and entry["kept_id"] == keep_id and entry["in_trash"]
        assert not copy.exists() and Path(entry["trash_path"]).is_file()
        assert client.get(f"/assets/{copy_id}").status_code == 404
        assert [e["id"] for e in client.get("/trash").json()] == [entry["id"]]

        restored = client.post("/trash/restore", json={"entries": [entry["id"]]})
        assert restored.status_code == 200, restored.text
        assert restored.json()[0]["restored_path"] == copy.as_posix() and copy.is_file()
        assert client.get("/trash").json() == []
        assert client.get("/trash", params={"all": "true"}).json()[0]["id"] == entry["id"]
        again = client.post("/trash/restore", json={"entries": [entry["id"]]})
        assert again.status_code == 422 and "restored already" in again.json()["error"]
    assert _id_of(served, copy) > copy_id  # ingested again, under a new id


def test_files_outside_the_roots_are_refused(served: Served) -> None:
    outside = served.photos / "coffee-copy.jpg"
    with served.client() as client:
        refused = client.post("/trash", json={"ids": [_id_of(served, outside)]})
        assert refused.status_code == 422
        assert "outside the library folder" in refused.json()["error"] and "Traceback" not in refused.text
        assert client.post("/trash", json={"ids": []}).status_code == 422
    assert outside.is_file()
