"""The CLI through typer's runner, on a real library folder with the tiny CLIP model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path


def test_ingest_search_similar_status_remove_rebuild(run, photos: Path) -> None:
    shutil.copy(photos / "coffee.jpg", photos / "coffee-copy.jpg")
    report = json.loads(run("ingest", str(photos), "--json").stdout)
    assert report["added"] == 16 and report["skipped_count"] == 0

    hits = json.loads(run("search", "a cup of coffee", "--json", "-k", "5").stdout)
    assert len(hits) == 5 and {"id", "path", "score"} <= set(hits[0])

    by_image = json.loads(run("search", "--image", str(photos / "rocket.jpg"), "--json").stdout)
    assert by_image[0]["path"].endswith("rocket.jpg")

    combined = json.loads(run("search", "red car", "--image", str(photos / "rocket.jpg"), "--image-weight", "0.9",
                              "--json").stdout)
    assert combined[0]["path"].endswith("rocket.jpg")

    similar = json.loads(run("similar", str(by_image[0]["id"]), "--json", "-k", "3").stdout)
    assert len(similar) == 3 and by_image[0]["id"] not in [h["id"] for h in similar]

    groups = json.loads(run("duplicates", "--json").stdout)
    assert any({Path(p).name for p in g["paths"]} == {"coffee.jpg", "coffee-copy.jpg"} for g in groups)

    status = json.loads(run("status", "--json").stdout)
    assert status["assets"] == {"image": 16} and status["vectors"]["image"] == 16
    assert status["models"]["clip"]["library"] == "open_clip:tiny-test:seed0"

    assert json.loads(run("remove", str(photos / "coffee-copy.jpg"), "--json").stdout) == {"removed": 1}
    rebuilt = json.loads(run("rebuild", "--json").stdout)
    assert rebuilt["image"]["count"] == 15

    again = json.loads(run("ingest", str(photos), "--json").stdout)
    assert again["added"] == 1 and again["unchanged"] == 15

    text = run("search", "coffee").stdout
    assert "score" in text and "coffee" in text


def test_errors_are_clean_and_nonzero(run, tmp_path: Path) -> None:
    result = run("ingest", str(tmp_path / "nope"), ok=False)
    assert result.exit_code == 1 and "does not exist" in result.output and "Traceback" not in result.output
    result = run("search", ok=False)
    assert result.exit_code == 1 and "give a text query" in result.output
    result = run("search", "x", "-k", "0", ok=False)
    assert result.exit_code == 1 and "k must be" in result.output


def test_model_mismatch_is_detected_when_the_library_opens(run, photos: Path, monkeypatch) -> None:
    run("ingest", str(photos / "coffee.jpg"))
    monkeypatch.setenv("MMRAG_CLIP_MODEL", "ViT-B-32")
    result = run("search", "x", ok=False)
    assert result.exit_code == 1 and "tiny-test" in result.output and "ViT-B-32" in result.output


def test_settings_file_keeps_the_model(run, photos: Path, monkeypatch, tmp_path: Path) -> None:
    run("ingest", str(photos / "coffee.jpg"))
    monkeypatch.delenv("MMRAG_CLIP_MODEL")
    assert "clip_model = \"tiny-test\"" in (tmp_path / "lib" / "mmrag.toml").read_text()
    hits = json.loads(run("search", "coffee", "--json").stdout)
    assert hits[0]["path"].endswith("coffee.jpg")
