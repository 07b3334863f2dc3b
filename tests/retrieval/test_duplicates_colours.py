"""Colour variants of an icon (Oxygen's folder-red, folder-grey, ...: the same drawing in another colour) are
different icons, while the sizes of one colour are still found together; photos keep their colour and greyscale
edits (no margin around them, so the icon colour test does not apply)."""

from __future__ import annotations

import numpy as np
from icon_themes import dup_items, icon, needs
from PIL import Image, ImageEnhance, ImageOps

from mmrag.ingest.hashes import compute_signature
from mmrag.retrieval.dedup_groups import group_duplicates
from mmrag.retrieval.dedup_icons import other_colour_icons

COLOURS = ("folder", "folder-red", "folder-grey", "folder-violet", "folder-green")
needs_oxygen = needs("oxygen")


def _icon(size: int, name: str) -> Image.Image:
    return icon("oxygen", size, "places", name)


@needs_oxygen
def test_colour_variants_of_a_folder_stay_apart() -> None:
    """Five colours of Oxygen's folder at 16-64 px: no group mixes two colours (before the colour test, all
    colours at 32-64 px were one group, and all at 16-22 px another), and each colour's sizes are grouped."""
    images = [(f"{name}@{size}", _icon(size, name)) for name in COLOURS for size in (16, 22, 32, 48, 64)]
    items = dup_items(images)
    groups = [{path.split("@")[0] for path in group.paths} for group in group_duplicates(items)]
    assert groups and all(len(colours) == 1 for colours in groups)
    assert {colour for colours in groups for colour in colours} == set(COLOURS)


def _drawing(colour: tuple[int, int, int], margin: int, side: int = 64) -> Image.Image:
    """A two-tone disc on white (an icon), or filling the frame (margin 0: a picture with a plain top half)."""
    yy, xx = np.mgrid[:side, :side]
    image = np.full((side, side, 3), 255, np.uint8)
    centre = side // 2
    inside = (yy - centre) ** 2 + (xx - centre) ** 2 < (centre - margin) ** 2 if margin else np.ones_like(yy, bool)
    image[inside] = colour
    image[inside & (yy > side * 5 // 8)] = np.asarray(colour) // 2
    return Image.fromarray(image)


def test_other_colour_icons_tells_recoloured_icons_from_edits() -> None:
    """Another hue or grey is another icon; a brighter, more saturated copy is not; photos (larger than an icon,
    here one with a plain top half, or a motif on a plain background) keep their greyscale copies."""
    red, blue = _drawing((200, 40, 40), 8), _drawing((40, 60, 200), 8)
    edited = ImageEnhance.Color(ImageEnhance.Brightness(red).enhance(1.2)).enhance(1.5)

    def different(a: Image.Image, b: Image.Image) -> bool:
        return other_colour_icons(compute_signature(a), compute_signature(b))

    assert different(red, blue) and different(red, ImageOps.grayscale(red).convert("RGB"))
    assert not different(red, edited) and not different(red, red.copy())
    for photo in (_drawing((200, 40, 40), 0, 600), _drawing((200, 40, 40), 40, 600)):
        assert not different(photo, ImageOps.grayscale(photo).convert("RGB"))
