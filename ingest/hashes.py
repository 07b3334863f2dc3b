"""Duplicate signatures computed once per image at ingest and stored in the catalog (``image_features``).

A signature holds what the duplicate cascade needs, so finding duplicates never decodes the files again:

- ``pixel_sha``: sha256 of the decoded upright RGB pixels and their size ("same pixels": a PNG re-saved
  with other settings, stripped metadata);
- ``phashes``: the 64-bit pHash of the image under the 8 symmetries of the square (identity, rotations by
  90/180/270 degrees, the mirror and its rotations), 8 bytes each in ``DIHEDRAL`` order; slot 0 equals
  ``imagehash.phash`` of the image;
- ``small``: a small RGB copy (longest side ``SMALL_SIDE``, aspect kept) for pixel-level comparisons;
- ``colour``: mean and standard deviation of R, G, B of the analysis copy (6 float32), to tell colour edits
  and blurs from plain re-encodes;
- ORB keypoints (x, y as float32 in the ``analysis`` image, longest side ``ANALYSIS_SIDE``) and their
  32-byte descriptors, for crops and small rotations (geometric verification with RANSAC).
"""

from __future__ import annotations

import hashlib

import numpy as np
from PIL import Image

from ..catalog.features import ImageSignature

SMALL_SIDE = 64
ANALYSIS_SIDE = 384
MAX_KEYPOINTS = 150
HASH_STRIPE_ROWS = 256  # rows hashed at a time for the pixel digest (the same digest as one pass)
# The 8 symmetries of the square, as applied to the image: (name, PIL transpose or None).
DIHEDRAL: tuple[tuple[str, Image.Transpose | None], ...] = (
    ("identity", None),
    ("rotate 90", Image.Transpose.ROTATE_90),
    ("rotate 180", Image.Transpose.ROTATE_180),
    ("rotate 270", Image.Transpose.ROTATE_270),
    ("mirror", Image.Transpose.FLIP_LEFT_RIGHT),
    ("mirror, rotate 90", Image.Transpose.TRANSPOSE),
    ("mirror, rotate 180", Image.Transpose.FLIP_TOP_BOTTOM),
    ("mirror, rotate 270", Image.Transpose.TRANSVERSE),
)


def compute_signature(rgb: Image.Image) -> ImageSignature:
    """The duplicate signature of an upright RGB image (decoded as in ingest)."""
    if rgb.mode != "RGB":
        rgb = rgb.convert("RGB")
    digest = hashlib.sha256(f"{rgb.width}x{rgb.height}:".encode())
    for top in range(0, rgb.height, HASH_STRIPE_ROWS):  # stripes: no full-size copy of a huge scan
        digest.update(rgb.crop((0, top, rgb.width, min(rgb.height, top + HASH_STRIPE_ROWS))).tobytes())
    analysis = _shrink(rgb, ANALYSIS_SIDE)
    keypoints, descriptors = orb_features(np.asarray(analysis.convert("L")))
    small = np.asarray(_shrink(analysis, SMALL_SIDE)).copy()
    flat = np.asarray(analysis).reshape(-1, 3).astype(np.float32)  # fine enough that a blur lowers the spread
    return ImageSignature(
        pixel_sha=digest.hexdigest(),
        phashes=dihedral_phashes(rgb),
        small=small,
        colour=np.concatenate([flat.mean(0), flat.std(0)]).astype(np.float32),
        analysis_size=analysis.size,
        keypoints=keypoints,
        descriptors=descriptors,
    )


def dihedral_phashes(image: Image.Image) -> bytes:
    """pHash of the image under each symmetry in ``DIHEDRAL`` (the 32x32 grey copy is made once)."""
    import imagehash

    small = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS)
    out = bytearray()
    for _name, transpose in DIHEDRAL:
        variant = small if transpose is None else small.transpose(transpose)
        out += bytes.fromhex(str(imagehash.phash(variant)))
    return bytes(out)


def orb_features(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Up to MAX_KEYPOINTS ORB keypoints (x, y) and descriptors; none for images too small to hold any."""
    import cv2

    empty = (np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    if min(grey.shape) < 48:
        return empty
    orb = cv2.ORB_create(nfeatures=MAX_KEYPOINTS, edgeThreshold=15, patchSize=15, fastThreshold=10)
    found, descriptors = orb.detectAndCompute(grey, None)
    if descriptors is None or not found:
        return empty
    points = np.asarray([k.pt for k in found], dtype=np.float32)
    return points, descriptors.astype(np.uint8)


def _shrink(image: Image.Image, side: int) -> Image.Image:
    """A copy whose longest side is at most ``side`` (never enlarged)."""
    scale = side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
