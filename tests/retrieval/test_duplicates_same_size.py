"""Icons drawn at one size: two different drawings of one size are two icons (an emblem, one more sound wave, other
lines), copies of one drawing (re-encoded, recoloured) stay copies, and a group never holds two different drawings
of one size, so look-alikes linked through their small redrawn sizes stay apart (real Tango icons)."""

from __future__ import annotations

from icon_themes import dup_items, icon, jpeg_round_trip, needs
from PIL import Image, ImageEnhance

from mmrag.ingest.hashes import compute_signature
from mmrag.retrieval.dedup_groups import group_duplicates
from mmrag.retrieval.dedup_icons import other_drawing_same_size
from mmrag.retrieval.dedup_verify import verify_pair

# look-alikes whose drawings of one size differ in a few per cent of their pixels (measured on the Tango set)
LOOKALIKES = {
    ("places", "folder", "user-home"): (16, 22, 24, 32),  # a house emblem
    ("status", "audio-volume-high", "audio-volume-medium"): (22, 24, 32),  # one sound wave more
    ("actions", "format-justify-center", "format-justify-left"): (16, 22, 24),  # the lines aligned otherwise
}
FOLDERS = ("folder", "folder-remote", "folder-saved-search", "user-home")
needs_tango = needs("tango")


def _icon(size: int, category: str, name: str) -> Image.Image:
    return icon("tango", size, category, name)


@needs_tango
def test_two_drawings_of_one_size_are_two_icons_and_copies_stay_copies() -> None:
    """Each look-alike pair at each listed size is another drawing (no verdict; before this test the aligned check
    took folder / user-home at 32 px for an edited copy); a JPEG (quality 75) and a brighter, more saturated copy
    of each drawing are still copies."""
    for (category, name, other), sizes in LOOKALIKES.items():
        for size in sizes:
            a, b = compute_signature(_icon(size, category, name)), compute_signature(_icon(size, category, other))
            assert other_drawing_same_size(a, b, 0), (name, other, size)
            assert verify_pair(a, b, 0) is None, (name, other, size)
            image = _icon(size, category, name)
            recoloured = ImageEnhance.Color(ImageEnhance.Brightness(image).enhance(1.2)).enhance(1.5)
            for copy in (jpeg_round_trip(image), recoloured):
                signature = compute_signature(copy)
                assert not other_drawing_same_size(a, signature, 0), (name, size)
                verdict = verify_pair(a, signature, 0)
                assert verdict is not None and verdict.confidence >= 0.5, (name, size)


def _folders() -> list[tuple[str, Image.Image]]:
    """Four Tango folders at 16, 22 and 32 px, and the 32 px drawing enlarged to 64 px."""
    images = []
    for name in FOLDERS:
        large = _icon(32, "places", name)
        images += [(f"{name}@16", _icon(16, "places", name)), (f"{name}@22", _icon(22, "places", name)),
                   (f"{name}@32", large), (f"{name}@64", large.resize((64, 64), Image.Resampling.LANCZOS))]
    return images


@needs_tango
def test_look_alike_folders_never_share_a_group() -> None:
    """No group mixes two of the four folders (before: folder and user-home were one group of 8, linked by their
    16 and 22 px drawings)."""
    groups = [{path.split("@")[0] for path in group.paths} for group in group_duplicates(dup_items(_folders()))]
    assert groups and all(len(names) == 1 for names in groups)
    assert {"folder", "user-home"} <= {name for names in groups for name in names}


@needs_tango
def test_small_drawings_reach_their_larger_sizes() -> None:
    """Each folder's four files are one group: the 16 and 22 px drawings, each other's nearest other size, also
    link to their nearest larger image (before: folder, folder-remote and folder-saved-search each split into
    16+22 and 32+64)."""
    groups = sorted(sorted(group.paths) for group in group_duplicates(dup_items(_folders())))
    assert groups == sorted([f"{name}@{size}" for size in (16, 22, 32, 64)] for name in FOLDERS)


@needs_tango
def test_copies_of_one_size_join_a_group_of_its_other_sizes() -> None:
    """The folder at 32 px twice (same pixels), as a JPEG, and its 16 and 22 px drawings: one group, though it then
    holds three files of one size; user-home stays apart."""
    folder = _icon(32, "places", "folder")
    images = [("folder@32", folder), ("folder@32-copy", folder.copy()), ("folder@32.jpg", jpeg_round_trip(folder)),
              ("folder@16", _icon(16, "places", "folder")), ("folder@22", _icon(22, "places", "folder")),
              ("user-home@32", _icon(32, "places", "user-home"))]
    groups = [set(group.paths) for group in group_duplicates(dup_items(images))]
    assert groups == [{"folder@32", "folder@32-copy", "folder@32.jpg", "folder@16", "folder@22"}]
