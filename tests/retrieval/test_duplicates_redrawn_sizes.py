"""Icons drawn again at each size of a theme: two large sizes of one icon (GNOME's 48 and 256 px drawings, other
pixels and margins) pair when each is the other's clear best match of its size, look-alikes do not, a lone pair
of look-alikes stays apart, and two sizes reduced to one small copy are not taken for one drawing size."""

from __future__ import annotations

from icon_themes import dup_items, icon, jpeg_round_trip, needs
from PIL import Image, ImageEnhance

from mmrag.ingest.hashes import compute_signature
from mmrag.retrieval.dedup_groups import group_duplicates
from mmrag.retrieval.dedup_icon_pairs import icon_candidates
from mmrag.retrieval.dedup_icons import other_drawing_same_size
from mmrag.retrieval.dedup_verify import ICON_SAME, verify_pair

# GNOME actions whose 48 and 256 px drawings no pixel or geometry test relates (before the mutual rule: no group)
PRINTING = ("document-print", "document-print-preview", "document-open", "document-properties", "address-book-new")


def _pairs(images: list[tuple[str, Image.Image]]) -> set[tuple[str, str]]:
    items = dup_items(images)
    found = icon_candidates([i.signature.small for i in items], [(i.width, i.height) for i in items], ICON_SAME)
    return {(items[a].path, items[b].path) for a, b in found}


@needs("gnome")
def test_each_icons_large_sizes_pair_and_look_alikes_do_not() -> None:
    """Five GNOME actions at 48 and 256 px (two document-print look-alikes among them): exactly the five own
    pairs, and five groups of two."""
    images = [(f"{name}@{size}", icon("gnome", size, "actions", name)) for name in PRINTING for size in (48, 256)]
    assert _pairs(images) == {(f"{name}@48", f"{name}@256") for name in PRINTING}
    groups = sorted(sorted(group.paths) for group in group_duplicates(dup_items(images)))
    assert groups == sorted(sorted((f"{name}@48", f"{name}@256")) for name in PRINTING)


@needs("gnome")
def test_a_lone_pair_of_look_alikes_is_not_paired() -> None:
    """document-print at 48 px and document-print-preview at 256 px, alone: each is the other's only match, with
    no lead over anything, so no pair (the rule wants a clear first choice, not any first choice)."""
    images = [("print@48", icon("gnome", 48, "actions", "document-print")),
              ("preview@256", icon("gnome", 256, "actions", "document-print-preview"))]
    assert _pairs(images) == set()


@needs("oxygen")
def test_two_sizes_with_one_small_copy_are_not_one_drawing_size() -> None:
    """Oxygen's rtf icon drawn at 128 and at 256 px: both small copies are 64 px, yet they are two drawing sizes,
    so the one-size test (another drawing of one size is another icon) leaves them to the other tests, which
    relate them. Told they were one size, it would call them two icons, as it did for every such pair before."""
    a, b = (compute_signature(icon("oxygen", size, "mimetypes", "application-rtf")) for size in (128, 256))
    assert a.small.shape == b.small.shape
    assert not other_drawing_same_size(a, b, 0, ((128, 128), (256, 256)))
    assert other_drawing_same_size(a, b, 0, ((256, 256), (256, 256)))
    verdict = verify_pair(a, b, 0, None, ((128, 128), (256, 256)))
    assert verdict is not None and verdict.confidence >= 0.5


@needs("gnome")
def test_two_drawings_of_one_small_size_need_the_full_aligned_test() -> None:
    """GNOME's document and drawing templates at 16 px correlate 0.84: enough for the lenient test meant for a
    small icon redrawn at another size, not for two drawings of one size, so no verdict (before: a copy, and
    the two icons' groups were one). A JPEG (quality 75) and a brightened copy of the 16 px drawing still are
    copies."""
    document, drawing = (icon("gnome", 16, "mimetypes", f"x-office-{k}-template") for k in ("document", "drawing"))
    a, b = compute_signature(document), compute_signature(drawing)
    assert verify_pair(a, b, 0, None, ((16, 16), (16, 16))) is None
    for copy in (jpeg_round_trip(document), ImageEnhance.Brightness(document).enhance(1.2)):
        verdict = verify_pair(a, compute_signature(copy), 0, None, ((16, 16), (16, 16)))
        assert verdict is not None and verdict.confidence >= 0.5


@needs("gnome")
def test_two_png_drawings_of_one_size_that_differ_a_little_are_two_icons() -> None:
    """GNOME's trash and full trash at 256 px differ in under 2 % of their content (the papers), which a JPEG copy
    may also lose to noise; two PNG files of one size that differ at all were edited or drawn apart, so over
    0.5 % is another drawing there. Both PNG: no verdict, and no group; as JPEG-like files: a copy (the looser
    share). A brightened PNG copy of the trash is still a copy."""
    empty, full = icon("gnome", 256, "places", "user-trash"), icon("gnome", 256, "status", "user-trash-full")
    a, b = compute_signature(empty), compute_signature(full)
    sizes = ((256, 256), (256, 256))
    assert verify_pair(a, b, 0, None, sizes, lossless=True) is None
    assert verify_pair(a, b, 0, None, sizes, lossless=False) is not None
    assert group_duplicates(dup_items([("trash", empty), ("trash-full", full)])) == []
    brighter = compute_signature(ImageEnhance.Brightness(empty).enhance(1.2))
    verdict = verify_pair(a, brighter, 0, None, sizes, lossless=True)
    assert verdict is not None and verdict.confidence >= 0.5


@needs("tango")
def test_an_image_without_a_known_size_is_judged_by_its_signature() -> None:
    """A catalog row without width and height gives no own size for that image (``sizes`` holds None for it):
    the one-size test then takes the size its signature was computed at, and folder / user-home at 16 px are
    still two drawings (before: a TypeError ended the whole duplicate search)."""
    a, b = (compute_signature(icon("tango", 16, "places", name)) for name in ("folder", "user-home"))
    assert other_drawing_same_size(a, b, 0, (None, (16, 16)))
    assert verify_pair(a, b, 0, None, (None, (16, 16))) is None
