"""Search over a real library of sample photos: image/text/combined queries, filters, duplicates."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from mmrag.retrieval.filters import Filters


@pytest.fixture
def lib(photos: Path, make_library):
    (photos / "2023").mkdir()
    (photos / "2024" / "summer").mkdir(parents=True)
    shutil.move(photos / "coffee.jpg", photos / "2023" / "coffee.jpg")
    shutil.move(photos / "rocket.jpg", photos / "2024" / "summer" / "rocket.jpg")
    shutil.move(photos / "horse.png", photos / "2024" / "horse.png")
    os.utime(photos / "2023" / "coffee.jpg", (1_680_000_000, 1_680_000_000))  # 2023-03-28
    library = make_library()
    library.ingest([photos])
    return library


def test_image_query_by_path_bytes_pil_and_id_agree(lib, photos: Path) -> None:
    path = photos / "astronaut.jpg"
    by_path = lib.search_image(path, k=5)
    assert by_path[0].path == path.as_posix() and by_path[0].score == pytest.approx(1.0, abs=2e-3)
    by_bytes = lib.search_image(path.read_bytes(), k=5)
    by_pil = lib.search_image(Image.open(path), k=5)
    by_id = lib.search_image(by_path[0].id, k=5)
    assert [h.id for h in by_bytes] == [h.id for h in by_path] == [h.id for h in by_pil] == [h.id for h in by_id]


def test_similar_leaves_the_item_out(lib) -> None:
    first = lib.search_text("a photo", k=1)[0]
    hits = lib.similar(first.id, k=4)
    assert len(hits) == 4 and first.id not in [h.id for h in hits]
    assert [h.score for h in hits] == sorted([h.score for h in hits], reverse=True)


def test_combined_query_moves_between_text_and_image(lib, photos: Path) -> None:
    image = photos / "chelsea.jpg"
    pure_image = lib.search(image=image, k=15)
    mostly_image = lib.search(text="a red car", image=image, image_weight=0.9, k=15)
    text_only = lib.search_text("a red car", k=15)
    assert mostly_image[0].path == image.as_posix()
    q = lib.query_vector("a red car", image, image_weight=0.5)
    t = lib.query_vector("a red car")
    i = lib.query_vector(image=image)
    assert np.allclose(q, (t + i) / np.linalg.norm(t + i), atol=1e-5)
    neg = lib.query_vector("a red car", negative="a cat", negative_weight=0.5)
    assert float(neg @ lib.query_vector("a cat")) < float(t @ lib.query_vector("a cat"))
    assert {h.id for h in pure_image} == {h.id for h in text_only}  # same library, every item ranked


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"folder": "2024"}, {"rocket.jpg", "horse.png"}),
        ({"folder": "2024/*"}, {"rocket.jpg", "horse.png"}),  # a folder includes its files and sub-folders
        ({"folder": "2024/s*"}, {"rocket.jpg"}),
        ({"folder": "2023"}, {"coffee.jpg"}),
        ({"path": "*.png"}, {"retina.png", "colorwheel.png", "page.png", "text.png", "horse.png"}),
        ({"before": "2024-01-01"}, {"coffee.jpg"}),
    ],
)
def test_filters_select_exactly_and_still_return_k(lib, filters, expected) -> None:
    hits = lib.search_text("anything", k=10, filters=filters)
    assert {Path(h.path).name for h in hits} == expected


def test_selective_filter_returns_k_results(lib) -> None:
    small = lib.search_text("x", k=3, filters={"min_size": 1})
    assert len(small) == 3
    sizes = sorted(h.extra["size"] for h in lib.search_text("x", k=15))
    threshold = sizes[-4]
    big = lib.search_text("x", k=3, filters={"min_size": threshold})
    assert len(big) == 3 and all(h.extra["size"] >= threshold for h in big)


def test_tags_filter(lib) -> None:
    hits = lib.search_text("x", k=3)
    lib.tag([hits[0].id, hits[1].id], add=["favourite"])
    tagged = lib.search_text("x", k=10, filters={"tags": ["favourite"]})
    assert {h.id for h in tagged} == {hits[0].id, hits[1].id}
    lib.tag([hits[0].id], remove=["favourite"])
    assert [h.id for h in lib.search_text("x", k=10, filters={"tags": "favourite"})] == [hits[1].id]


@pytest.mark.parametrize(
    ("bad", "error"),
    [
        ({"colour": "red"}, "unknown filter"),
        ({"kind": "video"}, "unknown kind"),
        ({"after": "last tuesday"}, "ISO date"),
        ({"min_size": -1}, "non-negative"),
    ],
)
def test_bad_filters_name_the_problem(lib, bad, error) -> None:
    with pytest.raises((ValueError, TypeError), match=error):
        lib.search_text("x", filters=bad)


@pytest.mark.parametrize(("kwargs", "error"), [({"k": 0}, "k must be"), ({"k": 10**9}, "k must be"),
                                               ({"k": "3"}, "integer")])
def test_bad_k(lib, kwargs, error) -> None:
    with pytest.raises((ValueError, TypeError), match=error):
        lib.search_text("x", **kwargs)


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01"])
def test_empty_queries_are_rejected(lib, query) -> None:
    with pytest.raises(ValueError, match="empty"):
        lib.search_text(query)


def test_unknown_asset_id(lib) -> None:
    with pytest.raises(ValueError, match="no such item"):
        lib.similar(10_000)


def test_filters_parse_types() -> None:
    parsed = Filters.parse({"kind": ["image", "generated"], "tags": "a", "after": "2024-05-01"})
    assert parsed.kind == ("image", "generated") and parsed.tags == ("a",) and parsed.after.year == 2024
    with pytest.raises(TypeError):
        Filters.parse(["kind"])


def test_duplicates_group_edited_copies_only(photos: Path, make_library) -> None:
    original = Image.open(photos / "astronaut.jpg")
    original.resize((384, 384)).save(photos / "astronaut-small.jpg", quality=70)
    ImageEnhance.Brightness(original).enhance(1.15).save(photos / "astronaut-bright.jpg", quality=85)
    buffer = io.BytesIO()
    original.save(buffer, "JPEG", quality=40)
    (photos / "astronaut-recompressed.jpg").write_bytes(buffer.getvalue())
    lib = make_library()
    lib.ingest([photos])
    groups = lib.duplicates()
    assert len(groups) == 1
    names = {Path(p).name for p in groups[0].paths}
    assert names == {"astronaut.jpg", "astronaut-small.jpg", "astronaut-bright.jpg", "astronaut-recompressed.jpg"}
    assert groups[0].confidence >= 0.5 and Path(groups[0].best_path).name == "astronaut.jpg"
    assert all(p.confidence == 1.0 for g in lib.duplicates(min_confidence=1.0) for p in g.pairs)
    with pytest.raises(ValueError, match="min_confidence"):
        lib.duplicates(min_confidence=1.5)
