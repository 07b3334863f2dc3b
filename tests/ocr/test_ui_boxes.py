"""The UI's details view outlines the recognised lines on the image."""

from __future__ import annotations

from pathlib import Path

from PIL import Image


def test_boxes_drawn_outlines_each_line(tmp_path: Path) -> None:
    from mmrag.ui.details import boxes_drawn

    path = tmp_path / "white.png"
    Image.new("RGB", (200, 100), (255, 255, 255)).save(path)
    image = boxes_drawn(str(path), [[[10, 10], [90, 10], [90, 40], [10, 40]]])
    assert image.getpixel((50, 10))[0] == 255 and image.getpixel((50, 10))[1] < 100  # red outline
    assert image.getpixel((50, 25)) == (255, 255, 255)  # inside stays as it was
    assert boxes_drawn(str(tmp_path / "missing.png"), []) is None
