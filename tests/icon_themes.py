"""Real icons of Debian's icon themes for the duplicate tests, flattened on white as the labelled set of
bench/dup_eval does. CI installs the themes (.ci/run), so there a missing theme fails its tests instead of
skipping them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pg import in_ci
from PIL import Image

from mmrag.ingest.hashes import compute_signature
from mmrag.retrieval.dedup_groups import DupItem

THEMES = {  # name -> (folder, Debian package)
    "tango": (Path("/usr/share/icons/Tango"), "tango-icon-theme"),
    "oxygen": (Path("/usr/share/icons/oxygen/base"), "oxygen-icon-theme"),
    "gnome": (Path("/usr/share/icons/gnome"), "gnome-icon-theme"),
}


def needs(theme: str) -> pytest.MarkDecorator:
    """Skip a test when the theme is missing, except in CI."""
    folder, package = THEMES[theme]
    return pytest.mark.skipif(not folder.is_dir() and not in_ci(), reason=f"Debian {package} is not installed")


def icon(theme: str, size: int, category: str, name: str) -> Image.Image:
    """The theme's PNG of ``name`` at ``size`` px, its transparency flattened on white."""
    image = Image.open(THEMES[theme][0] / f"{size}x{size}" / category / f"{name}.png").convert("RGBA")
    flat = Image.new("RGB", image.size, (255, 255, 255))
    flat.paste(image, mask=image.getchannel("A"))
    return flat


def jpeg_round_trip(image: Image.Image, quality: int = 75) -> Image.Image:
    """``image`` as a JPEG file of ``quality`` decodes it."""
    data = io.BytesIO()
    image.save(data, "JPEG", quality=quality)
    return Image.open(data).convert("RGB")


def dup_items(images: list[tuple[str, Image.Image]]) -> list[DupItem]:
    """One duplicate-cascade item per (name, image), with the image's own size, as PNG files (JPEG files for
    names ending in .jpg)."""
    return [DupItem(n, name, f"sha-{name}", compute_signature(image), image.width, image.height, 1000,
                    "JPEG" if name.endswith(".jpg") else "PNG")
            for n, (name, image) in enumerate(images)]
