"""Feedback rows (``retrieval.feedback``) and their export with ``mmrag feedback --json``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrag.catalog import Asset, Catalog, Chunk
from mmrag.retrieval.feedback import delete_feedback, export_feedback, feedback_counts, record_feedback


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    opened = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    yield opened
    opened.dispose()


@pytest.fixture
def items(catalog: Catalog) -> tuple[int, int, int]:
    """An image asset, a document asset and one chunk of it."""
    with catalog.session() as session:
        image = Asset(path="/photos/cat.jpg", folder="/photos", kind="image")
        document = Asset(path="/docs/cats.pdf", folder="/docs", kind="document")
        session.add_all([image, document])
        session.flush()
        chunk = Chunk(asset_id=document.id, ordinal=0, text="Cats sleep a lot.", page=3)
        session.add(chunk)
        session.flush()
        return image.id, document.id, chunk.id


def test_record_export_replace_and_delete(catalog: Catalog, items: tuple[int, int, int]) -> None:
    image, document, chunk = items
    first = record_feedback(catalog, "result", " a cat ", 1, asset_id=image)
    second = record_feedback(catalog, "answer", "how long do cats sleep?", -1, comment="too short")
    third = record_feedback(catalog, "result", "how long do cats sleep?", 1, asset_id=document, chunk_id=chunk)
    rows = export_feedback(catalog)
    assert [r["id"] for r in rows] == [first, second, third]
    assert rows[0].items() >= {"target": "result", "query": "a cat", "value": 1, "asset_id": image,
                               "path": "/photos/cat.jpg", "page": None}.items()
    assert rows[1]["comment"] == "too short" and rows[1]["asset_id"] is None and rows[1]["created_at"]
    assert rows[2]["page"] == 3 and rows[2]["chunk_id"] == chunk
    json.dumps(rows)  # exportable as is

    assert record_feedback(catalog, "result", "a cat", -1, asset_id=image, replace=first) == first
    assert export_feedback(catalog)[0]["value"] == -1 and len(export_feedback(catalog)) == 3
    assert feedback_counts(catalog) == {"result": {"up": 1, "down": 1}, "answer": {"up": 0, "down": 1}}

    assert delete_feedback(catalog, second) is True and delete_feedback(catalog, second) is False
    assert [r["id"] for r in export_feedback(catalog)] == [first, third]
    # a vote whose row was withdrawn elsewhere is written anew rather than lost
    assert record_feedback(catalog, "answer", "again", 1, replace=second) not in (first, second, third)


def test_feedback_survives_its_item_being_removed(catalog: Catalog, items: tuple[int, int, int]) -> None:
    image, _, _ = items
    record_feedback(catalog, "result", "a cat", 1, asset_id=image)
    with catalog.session() as session:
        session.delete(session.get(Asset, image))
    (row,) = export_feedback(catalog)
    assert row["asset_id"] is None and row["path"] is None and row["query"] == "a cat"


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"target": "photo", "query": "q", "value": 1, "asset_id": 1}, "unknown feedback target 'photo'"),
    ({"target": "answer", "query": "  ", "value": 1}, "needs the query"),
    ({"target": "answer", "query": "q", "value": 2}, "+1 (thumbs up) or -1"),
    ({"target": "answer", "query": "q", "value": True}, "+1 (thumbs up) or -1"),
    ({"target": "result", "query": "q", "value": 1}, "needs the asset_id or chunk_id"),
    ({"target": "result", "query": "q", "value": 1, "asset_id": 999}, "no library item with id 999"),
    ({"target": "result", "query": "q", "value": 1, "chunk_id": 999}, "no passage with id 999"),
])
def test_bad_feedback_is_refused(catalog: Catalog, items: tuple[int, int, int], kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("+", r"\+").replace("(", r"\(").replace(")", r"\)")):
        record_feedback(catalog, **kwargs)
    assert export_feedback(catalog) == []


def test_cli_exports_feedback_as_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mmrag.cli.feedback_cmd  # noqa: F401 - registers the command (also listed in cli/__init__.py)
    from mmrag.cli import app

    monkeypatch.setenv("MMRAG_CLIP_MODEL", "tiny-test")
    library = tmp_path / "lib"
    runner = CliRunner()
    missing = runner.invoke(app, ["feedback", "--library", str(library)])
    assert missing.exit_code != 0 and "is not an mmrag library" in missing.output
    assert not library.exists()  # a read command creates nothing
    library.mkdir()
    catalog = Catalog(f"sqlite:///{library / 'catalog.sqlite'}")  # now it is a library, with no feedback
    try:
        empty = runner.invoke(app, ["feedback", "--library", str(library)])
        assert empty.exit_code == 0 and "no feedback yet" in empty.output
        record_feedback(catalog, "answer", "what is mmrag?", 1)
    finally:
        catalog.dispose()
    result = runner.invoke(app, ["feedback", "--json", "--library", str(library)])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row.items() >= {"target": "answer", "query": "what is mmrag?", "value": 1}.items()
    table = runner.invoke(app, ["feedback", "--library", str(library)])
    assert table.exit_code == 0 and "what is mmrag?" in table.output
