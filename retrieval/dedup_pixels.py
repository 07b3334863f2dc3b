"""Pixel helpers shared by the duplicate tests (``dedup_verify``, ``dedup_icons``, ``dedup_candidates``): the
background colour of a small copy, its content box, grey, and the symmetries of the square."""

from __future__ import annotations

import numpy as np

MIN_GRID = 16  # smallest comparison size (pixels per side)
SMALL_GRID = 32  # icon size: an image at most this many pixels a side (a 16-32 px drawing) is compared at its own size
FRAME_TOLERANCE = 12  # a frame's pixels are within this of the corner colour (0..255, any channel)


def off_corner(images: np.ndarray, corner: np.ndarray | None = None, tolerance: float = FRAME_TOLERANCE) -> np.ndarray:
    """Which pixels of ``images`` (..., height, width, channels: one image or a batch) are more than ``tolerance``
    (in any channel) from the corner colour: each image's top-left pixel, or ``corner`` when given."""
    kind = np.int16 if np.issubdtype(images.dtype, np.integer) else np.float32
    reference = images[..., :1, :1, :] if corner is None else np.asarray(corner)
    return np.abs(images.astype(kind) - reference.astype(kind)).max(axis=-1) > tolerance


def content_box(image: np.ndarray, tolerance: int = FRAME_TOLERANCE) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the pixels more than ``tolerance`` off the corner colour, None without a
    margin or content."""
    content = off_corner(image, tolerance=tolerance)
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if len(rows) < MIN_GRID // 2 or len(cols) < MIN_GRID // 2:
        return None
    box = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return None if box == (0, content.shape[0], 0, content.shape[1]) else box


def luma(image: np.ndarray) -> np.ndarray:
    """Grey as a greyscale conversion makes it (ITU-R 601 luma), keeping a channel axis."""
    return (image @ np.asarray([0.299, 0.587, 0.114], np.float32))[..., None]


def turn(grey: np.ndarray, symmetry: int) -> np.ndarray:
    """``grey`` under ``ingest.hashes.DIHEDRAL[symmetry]`` (the same turns PIL's transpose makes)."""
    out = np.fliplr(grey) if symmetry >= 4 else grey
    quarter = symmetry % 4
    # PIL ROTATE_90 is counter-clockwise, like np.rot90; the mirrored slots follow PIL's TRANSVERSE,
    # FLIP_TOP_BOTTOM and TRANSPOSE, which are the mirror followed by rotations of 90, 180 and 270 degrees.
    return np.ascontiguousarray(np.rot90(out, quarter))
