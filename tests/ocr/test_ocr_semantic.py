"""The OCR text embedded with the text model: text → image search finds an image by what its text means,
not only by its words; the vectors follow the text through changes and removals."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from mmrag.catalog.ocr_text import OCR_TEXT_SPACE
from mmrag.catalog.vectors import load_vectors, vector_ids
from mmrag.ingest.ocr_vectors import SYNCED_KEY, embedding_input, sync_ocr_vectors
from mmrag.retrieval.filters import Filters
from mmrag.retrieval.ocr_search import TextMatch, fuse, search_images_by_text

from .conftest import sign


@pytest.fixture
def sign_photos(photos: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "signs"
    folder.mkdir()
    for name in ("chelsea.jpg", "coffee.jpg", "rocket.jpg"):
        shutil.copy(photos / name, folder / name)
    sign("PHARMACY").save(folder / "pharmacy.png")
    sign("Central Station").save(folder / "station.png")
    return folder


def _ids(lib) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from mmrag.catalog import Asset

    with lib.catalog.session() as session:
        return {Path(a.path).name: a.id for a in session.execute(select(Asset)).scalars()}


def test_ocr_text_is_embedded_at_ingest_and_found_by_meaning(make_library, sign_photos: Path,
                                                             text_embedder) -> None:
    lib = make_library(ingest={"ocr": "auto"})
    lib.ingest([sign_photos])
    ids = _ids(lib)
    stored = vector_ids(lib.catalog, OCR_TEXT_SPACE)
    assert sorted(stored.tolist()) == sorted([ids["pharmacy.png"], ids["station.png"]])
    found, vectors = load_vectors(lib.catalog, OCR_TEXT_SPACE, [ids["pharmacy.png"]])
    expected = text_embedder.embed_texts([embedding_input("PHARMACY")])[0]
    assert float(vectors[0] @ expected) > 0.99  # float16 storage

    # no word of the query is in the image: the words index has nothing, the meaning finds it
    query = "drugstore medicine"
    assert not search_images_by_text(lib.components, query, 3, Filters(), search_in="text", semantic=False)
    hits = lib.search_text(query, k=3)
    assert hits[0].id == ids["pharmacy.png"] and hits[0].extra["match"] in ("text", "both")
    assert hits[0].extra["text_cosine"] >= 0.35 and "PHARMACY" in hits[0].text.upper()
    assert hits[0].extra["ocr_lines"][0]["box"]
    words = lib.search_text("central station", k=2)
    assert words[0].id == ids["station.png"] and "text_cosine" in words[0].extra  # words and meaning


def test_vectors_follow_changed_and_removed_text(make_library, sign_photos: Path) -> None:
    lib = make_library(ingest={"ocr": "on"})
    lib.ingest([sign_photos])
    sign("Grand Hotel").save(sign_photos / "pharmacy.png")
    (sign_photos / "station.png").unlink()
    lib.ingest([sign_photos])
    ids = _ids(lib)
    assert vector_ids(lib.catalog, OCR_TEXT_SPACE).tolist() == [ids["pharmacy.png"]]
    assert lib.search_text("a place to stay the night", k=1)[0].id == ids["pharmacy.png"]
    assert not lib.search_text("drugstore medicine", k=3, search_in="text")


def test_a_library_without_vectors_gets_them_on_its_next_ingest(make_library, sign_photos: Path) -> None:
    lib = make_library(ingest={"ocr": "auto"})
    lib.ingest([sign_photos])
    with lib.catalog.session() as session:  # as a library made before the OCR text was embedded
        from sqlalchemy import delete

        from mmrag.catalog.models import Meta, Vector

        session.execute(delete(Vector).where(Vector.space == OCR_TEXT_SPACE))
        session.execute(delete(Meta).where(Meta.key == SYNCED_KEY))
    assert not lib.search_text("drugstore medicine", k=3, search_in="text")
    report = lib.ingest([sign_photos])  # nothing new to ingest
    assert report.added == 0 and len(vector_ids(lib.catalog, OCR_TEXT_SPACE)) == 2
    assert lib.search_text("drugstore medicine", k=1, search_in="text")[0].id == _ids(lib)["pharmacy.png"]
    assert sync_ocr_vectors(lib.components) == 0  # in sync: nothing read, no model work


def test_semantic_matches_rank_between_clip_and_full_word_matches() -> None:
    # CLIP's first image alone, a semantic match alone, an image showing every word of the query
    fused = dict(fuse([1, 2], [TextMatch(3, 2.0, 1.0, ())], [(4, 0.6)]))
    assert fused[3] > fused[4] > fused[1]
    assert fuse([1], [], []) == fuse([1], [])
    assert np.isclose(fused[4], 1.25 / 11)
