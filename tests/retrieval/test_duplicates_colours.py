"""Colour variants of an icon (Oxygen's folder-red, folder-grey, ...: the same drawing in another colour) are
different icons, while the sizes of one colour are still found together; photos keep their colour and greyscale
edits (no margin around them, so the icon colour test does not apply)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pg import in_ci
from PIL import Image, ImageEnhance, ImageOps

from mmrag.ingest.hashes import compute_signature
from mmrag.retrieval.dedup_groups import DupItem, group_duplicates
from mmrag.retrieval.dedup_verify import other_colour_icons

OXYGEN = Path("/usr/share/icons/oxygen/base")
COLOURS = ("folder", "folder-red", "folder-grey", "folder-violet", "folder-green")
# CI installs the theme (.ci/run), so there a missing theme fails the tests instead of skipping them
needs_oxygen = pytest.mark.skipif(not OXYGEN.is_dir() and not in_ci(),
                                  reason="Debian oxygen-icon-theme is not installed")


def _icon(size: int, name: str) -> Image.Image:
    image = Image.open(OXYGEN / f"{size}x{size}" / "places" / f"{name}.png").convert("RGBA")
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    return flat


@needs_oxygen
def test_colour_variants_of_a_folder_stay_apart() -> None:
    """Five colours of Oxygen's folder at 16-64 px: no group mixes two colours (before the colour test, all
    colours at 32-64 px were one group, and all at 16-22 px another), and each colour's sizes are grouped."""
    images = [(f"{name}@{size}", _icon(size, name)) for name in COLOURS for size in (16, 22, 32, 48, 64)]
    items = [DupItem(n, name, f"sha-{name}", compute_signature(image), image.width, image.height, 1000, "PNG")
             for n, (name, image) in enumerate(images)]
    groups = [{path.split("@")[0] for path in group.paths} for group in group_duplicates(items)]
    assert groups and all(len(colours) == 1 for colours in groups)
    assert {colour for colours in groups for colour in colours} == set(COLOURS)


def _drawing(colour: tuple[int, int, int], margin: int) -> np.ndarray:
    """A two-tone disc on white (an icon) or filling the frame (margin 0: a picture without a margin)."""
    yy, xx = np.mgrid[:64, :64]
    image = np.full((64, 64, 3), 255, np.uint8)
    inside = (yy - 32) ** 2 + (xx - 32) ** 2 < (32 - margin) ** 2 if margin else np.ones((64, 64), bool)
    image[inside] = colour
    image[inside & (yy > 40)] = np.asarray(colour) // 2
    return image


def test_other_colour_icons_tells_recoloured_icons_from_edits() -> None:
    """Another hue or grey is another icon; a brighter, more saturated copy is not; without a margin (photos)
    the test never applies, so a greyscale photo stays a copy of its original."""
    red = _drawing((200, 40, 40), 8)
    blue = _drawing((40, 60, 200), 8)
    grey = np.asarray(ImageOps.grayscale(Image.fromarray(red)).convert("RGB"))
    edited = np.asarray(ImageEnhance.Color(ImageEnhance.Brightness(Image.fromarray(red)).enhance(1.2)).enhance(1.5))
    assert other_colour_icons(red, blue) and other_colour_icons(red, grey)
    assert not other_colour_icons(red, edited) and not other_colour_icons(red, red.copy())
    photo = _drawing((200, 40, 40), 0)
    assert not other_colour_icons(photo, np.asarray(ImageOps.grayscale(Image.fromarray(photo)).convert("RGB")))
