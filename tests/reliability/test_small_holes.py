"""The smaller holes of the fault campaign (issue 17, items 9 and 10)."""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrag.cli import app
from mmrag.ingest.documents.loaders import load_document
from mmrag.ingest.images import open_image

pytestmark = pytest.mark.integration


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner(env={"COLUMNS": "300"}).invoke(app, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"mmrag {' '.join(args)} raised {result.exception!r}")
    return result.exit_code, result.output


def test_an_id_beyond_64_bits_is_a_clear_error_in_tag(ingested) -> None:
    code, output = _cli("tag", "9223372036854775808", "--add", "x", "--library", str(ingested.path))
    assert code == 1 and "no library item with id 9223372036854775808" in output


@pytest.mark.parametrize("bad", [True, 1.0, "1"])
def test_get_asset_and_similar_share_one_id_check(ingested, bad: object) -> None:
    for call in (ingested.get_asset, ingested.similar):
        with pytest.raises(TypeError, match="must be an integer"):
            call(bad)  # type: ignore[arg-type]


def test_a_device_as_query_image_is_named_as_such(ingested) -> None:
    code, output = _cli("search", "--image", "/dev/zero", "--library", str(ingested.path))
    assert code == 1 and "does not exist" not in output and "device" in output, output


def test_an_impossible_index_spec_is_refused_before_any_work(ingested) -> None:
    started = time.perf_counter()
    code, output = _cli("rebuild", "--index-spec", "IVF99999999,Flat", "--library", str(ingested.path))
    assert code == 1 and "15" in output and "IVF99999999" in output, output
    assert time.perf_counter() - started < 30
    assert len(ingested.search_text("a photo", k=20)) == 15, "the old index must still serve"


def test_latin1_html_without_a_charset_is_decoded(tmp_path: Path) -> None:
    page = tmp_path / "page.html"
    page.write_bytes("<html><head><title>Crème brûlée</title></head><body><h1>Café à la française</h1>"
                     "<p>Une pâtisserie très appréciée, déjà célèbre.</p></body></html>".encode("latin-1"))
    document = load_document(page)
    assert document.title == "Crème brûlée"
    assert "Café à la française" in document.text and "très appréciée, déjà" in document.text


def test_leftover_temporary_files_are_removed_by_the_next_writer(ingested, photos: Path) -> None:
    leftover = ingested.path / "index" / ".image.faiss.0badf00d.tmp"
    leftover.write_bytes(b"\0" * 1024)
    ingested.ingest([photos])
    assert not leftover.exists()


def test_a_no_op_reingest_of_hostile_files_loads_no_model(photos: Path, make_library, monkeypatch) -> None:
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (photos / "dangling.jpg").symlink_to(photos / "nowhere.jpg")
    (photos / "empty.png").write_bytes(b"")
    first = make_library()
    first.ingest([photos])
    import mmrag.models.registry as registry

    def no_model(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a no-op re-ingest loaded a model")

    monkeypatch.setattr(registry, "load_image_text_embedder", no_model)
    monkeypatch.setattr(registry, "load_text_embedder", no_model)
    from mmrag import Library

    again = Library(first.path, clip_model="tiny-test", device="cpu")
    try:
        report = again.ingest([photos])
    finally:
        again.close()
    assert report.unchanged == 15 and len(report.skipped) == 3 and report.images_embedded == 0


# -- item 10: no warnings filter survives decoding in threads --------------------------------------------------

def test_decoding_in_threads_leaves_the_warnings_filters_as_they_were(photos: Path, make_library) -> None:
    data = [(photos / name).read_bytes() for name in ("coffee.jpg", "horse.png", "rocket.jpg")]
    before = list(warnings.filters)
    barrier = threading.Barrier(8)

    def decode() -> None:
        barrier.wait()
        for _ in range(40):
            for blob in data:
                open_image(blob, "x", 10**8)

    threads = [threading.Thread(target=decode) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert list(warnings.filters) == before, "a warnings filter was left behind by decode threads"
    lib = make_library(workers=4)
    lib.ingest([photos])
    assert list(warnings.filters) == before
