"""A theme draws each icon once a size: two small icons of one size never both take one larger drawing as theirs
(Tango's speakers with two and three waves), two 16 px drawings that fill their canvas are compared as one size
(Oxygen's laptop and display), and a group never holds two unrelated drawings of one small size."""

from __future__ import annotations

from icon_themes import dup_items, icon, jpeg_round_trip, needs
from PIL import Image, ImageEnhance

from mmrag.ingest.hashes import compute_signature
from mmrag.retrieval.dedup_groups import build_groups, drawing_size, group_duplicates
from mmrag.retrieval.dedup_icon_pairs import icon_candidates
from mmrag.retrieval.dedup_icons import icon_size, other_drawing_same_size
from mmrag.retrieval.dedup_verify import ICON_SAME, verify_pair
from mmrag.retrieval.hits import DuplicatePair


def _speakers(sizes: tuple[int, ...]) -> list[tuple[str, Image.Image]]:
    return [(f"{waves}@{size}", icon("tango", size, "status", f"audio-volume-{waves}"))
            for waves in ("high", "medium") for size in sizes]


@needs("tango")
def test_two_small_icons_never_share_one_larger_drawing() -> None:
    """The 16 px speaker with two waves scores 0.903 with the 24 px one with three and 0.877 with its own (lead
    0.026); the 16 px speaker with three waves scores 0.878 with it and 0.763 with the other (lead 0.115), so it
    keeps the 24 px drawing (before: one group of three)."""
    items = dup_items(_speakers((16, 24)))
    found = icon_candidates([i.signature.small for i in items], [(i.width, i.height) for i in items], ICON_SAME)
    pairs = {(items[a].path, items[b].path) for a, b in found}
    assert ("high@24", "medium@16") not in pairs
    assert {("high@16", "high@24"), ("medium@16", "medium@24")} <= pairs
    groups = sorted(sorted(group.paths) for group in group_duplicates(items))
    assert groups == [["high@16", "high@24"], ["medium@16", "medium@24"]]


@needs("oxygen")
def test_small_drawings_filling_their_canvas_are_compared_at_one_size() -> None:
    """Oxygen's laptop and display at 16 and 22 px reach their canvas' edges (no icon by the margin test) and
    pass the aligned test (0.631 at 16 px); as PNG files of at most 32 px they are now two drawings. A
    brightened copy, a contrast edit and a JPEG copy saved as PNG still are copies."""
    for size in (16, 22):
        sizes = ((size, size), (size, size))
        laptop, display = (icon("oxygen", size, "devices", name) for name in ("computer-laptop", "video-display"))
        a, b = compute_signature(laptop), compute_signature(display)
        assert icon_size(b, (size, size)) is None
        assert other_drawing_same_size(a, b, 0, sizes, lossless=True), size
        assert verify_pair(a, b, 0, None, sizes, lossless=True) is None, size
        copies = (ImageEnhance.Brightness(display).enhance(1.3), ImageEnhance.Contrast(display).enhance(1.3),
                  jpeg_round_trip(display))
        for copy in copies:
            verdict = verify_pair(b, compute_signature(copy), 0, None, sizes, lossless=True)
            assert verdict is not None and verdict.confidence >= 0.5, size


@needs("tango")
def test_a_group_never_holds_two_unrelated_drawings_of_one_small_size() -> None:
    """The 16 px speaker with three waves fills its canvas (no icon by the margin test) but has a drawing size:
    linked to the 24 px speaker after the one with two waves, it stays out of that group; when the two 16 px
    files are a pair themselves (copies), all three join."""
    items = dup_items(_speakers((16, 24)))
    by_path = {item.path: item for item in items}
    high16, medium16, high24 = (by_path[path] for path in ("high@16", "medium@16", "high@24"))
    assert icon_size(high16.signature, (16, 16)) is None and drawing_size(high16) == (16, 16)
    links = [DuplicatePair(medium16.id, high24.id, "resized/re-encoded", 0.9),
             DuplicatePair(high16.id, high24.id, "resized/re-encoded", 0.8)]
    assert [sorted(group.paths) for group in build_groups(items, links)] == [["high@24", "medium@16"]]
    copies = [*links, DuplicatePair(high16.id, medium16.id, "edited", 0.7)]
    assert [sorted(group.paths) for group in build_groups(items, copies)] == [["high@16", "high@24", "medium@16"]]
