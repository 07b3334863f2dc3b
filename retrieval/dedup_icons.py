"""Tests for icons (images of at most ``ICON_MAX_SIDE`` pixels a side on a plain background): an icon theme draws
colour variants of one icon (folder-red, folder-grey) and look-alikes that differ in a few per cent of the pixels
(an emblem, one more sound wave), which the aligned test of ``dedup_verify`` (blind to colour edits, tolerant of a
watermark) would take for copies. Photos (larger, mostly without a margin) are never judged by them."""

from __future__ import annotations

import numpy as np

from ..catalog.features import ImageSignature
from .dedup_pixels import FRAME_TOLERANCE, MIN_GRID, SMALL_GRID, content_box, luma, off_corner, turn

ICON_MAX_SIDE = 256  # largest icon size of the themes (Tango, Oxygen); the colour test is for icons only
ICON_CHROMA = 10.0  # mean content chroma (CIELAB, 8-bit) below which an icon counts as grey
ICON_GREY_RATIO = 0.35  # an icon with under this share of the other's chroma is its grey variant
ICON_HUE_DEGREES = 35.0  # two icons' hues this far apart are colour variants (Tango sizes of one icon: <= 22)
SAME_DRAWING_BLUR = 0.7  # Gaussian sigma (pixels) before comparing one drawing size's colours: JPEG noise fades
SAME_DRAWING_LEVEL = 32  # a colour this far (0..255, any channel) from the fitted one differs
SAME_DRAWING_SHARE = 0.02  # share of differing content pixels above which two same-size icons are two icons
# Two PNG files, which re-saving never changes (chosen on Tango and GNOME): over this share differing is another
# drawing; and when most of their content is identical (SAME_DRAWING_UNTOUCHED), a colour this far differs, unblurred.
SAME_DRAWING_SHARE_LOSSLESS = 0.005
SAME_DRAWING_LEVEL_LOSSLESS = 24
SAME_DRAWING_UNTOUCHED = 0.6  # identical share of two PNG files' content above which the rest was redrawn (a JPEG
# copy saved as PNG keeps at most 0.47 of its icon's pixels exactly; look-alikes drawn from one another, 0.60-0.96)
SAME_DRAWING_SHARE_UNMARGINED = 0.15  # two PNG files of at most SMALL_GRID px, not both with a clean margin: a
# brightened copy saved through JPEG differs in up to 12 % (Tango, GNOME); Oxygen's laptop and display in 46 %
CLIPPED = 2  # a channel within this of 0 or 255 may have been clipped by a colour edit
LOSSY_TOLERANCE = 24  # background tolerance for a pair with a lossy file: JPEG noise reaches an icon's margin

# The two images' own (width, height), each None when not known (a catalog row without them; see ``own_size``).
PairSizes = tuple[tuple[int, int] | None, tuple[int, int] | None]


def other_colour_icons(a: ImageSignature, b: ImageSignature,
                       sizes: PairSizes | None = None) -> bool:
    """Two icons (at most ``ICON_MAX_SIDE`` pixels a side, each on a background, ``_on_background``) drawn in
    other colours: the mean chroma (CIELAB a*, b*) of their content points in hues more than
    ``ICON_HUE_DEGREES`` apart, or one is grey (under ``ICON_GREY_RATIO`` of the other's chroma) while the
    other has colour; a chroma under ``ICON_CHROMA`` counts as no colour. An icon theme draws colour variants
    (folder-red, folder-grey) with otherwise the same pixels, which the aligned test, blind to colour edits,
    would take for one picture. A brighter or more saturated copy keeps its hue; photos (larger, mostly without
    a margin) keep their greyscale edits, also a wallpaper whose motif sits on a plain background."""
    if not all(_icons(a, b, sizes)):
        return False
    ca, cb = _content_chroma(a.small), _content_chroma(b.small)
    low, high = sorted((float(np.linalg.norm(ca)), float(np.linalg.norm(cb))))
    if high <= ICON_CHROMA:
        return False
    if low < ICON_GREY_RATIO * high:
        return True
    return bool(float(ca @ cb) / (low * high) < np.cos(np.radians(ICON_HUE_DEGREES)))


def own_size(signature: ImageSignature, size: tuple[int, int] | None = None) -> tuple[int, int]:
    """``size``, the image's own (width, height) when known (a large JPEG's signature may come from a reduced
    decode, e.g. a 512 px photo decoded at 256 px), else the size the signature was computed at."""
    return size or signature.analysis_size


def icon_sized(signature: ImageSignature, size: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """(width, height) (``own_size``) of an image of at most ``ICON_MAX_SIDE`` a side, None for a larger one."""
    size = own_size(signature, size)
    return size if max(size) <= ICON_MAX_SIDE else None


def icon_size(signature: ImageSignature, size: tuple[int, int] | None = None,
              tolerance: int = FRAME_TOLERANCE) -> tuple[int, int] | None:
    """(width, height) of an icon (``icon_sized``, on a background: ``_on_background``, within ``tolerance`` of
    its colour), None for any other image."""
    size = icon_sized(signature, size)
    return size if size and _on_background(signature.small, tolerance) else None


def icons_of_one_size(a: ImageSignature, b: ImageSignature, sizes: PairSizes | None = None) -> bool:
    """Both icons (``icon_size``) of one size, turns aside."""
    own_a, own_b = sizes or (None, None)
    return all(_icons(a, b, sizes)) and sorted(own_size(a, own_a)) == sorted(own_size(b, own_b))


def _icons(a: ImageSignature, b: ImageSignature, sizes: PairSizes | None,
           tolerance: int = FRAME_TOLERANCE) -> tuple[bool, bool]:
    """Whether each of the two is an icon (``icon_size``)."""
    own_a, own_b = sizes or (None, None)
    return icon_size(a, own_a, tolerance) is not None, icon_size(b, own_b, tolerance) is not None


def other_drawing_same_size(a: ImageSignature, b: ImageSignature, symmetry: int,
                            sizes: PairSizes | None = None,
                            lossless: bool = False) -> bool:
    """Two icons drawn at one size (the same small-copy shape, or content boxes of one size, e.g. Tango's 24 px
    icon is its 22 px drawing with a margin) whose colours differ in more than ``SAME_DRAWING_SHARE`` of the
    content: another drawing (an emblem, another arrow highlighted, one more sound wave, a badge), not a copy.
    The colours of each are fitted to the other's (``_unfitted_share``) after a slight blur
    (``SAME_DRAWING_BLUR``: JPEG noise); a pixel differs by more than ``SAME_DRAWING_LEVEL``; one of the two
    on its background, within ``LOSSY_TOLERANCE``, is enough there (JPEG noise reaches an icon's margin). When both are
    ``lossless`` files of one format, re-saving changes no pixel, so what differs was edited or drawn apart:
    ``SAME_DRAWING_SHARE_LOSSLESS`` applies. When, moreover, the small copies hold the files' own pixels (icons
    no larger than a small copy) and over ``SAME_DRAWING_UNTOUCHED`` of the content is identical, the rest was
    redrawn (one arrow drawn in another shade): no blur, ``SAME_DRAWING_LEVEL_LOSSLESS``, and such a pair needs
    no background, only icon size (``icon_sized``; a 16 px icon may fill its frame). Any other such pair of at
    most ``SMALL_GRID`` a side without a clean margin is tested too, with the blur and over
    ``SAME_DRAWING_SHARE_UNMARGINED`` differing (one may hold a brightened JPEG copy's pixels, whose noise also
    spoils the margin). Redrawn sizes (16 vs 32 px) are left to the other tests."""
    known_a, known_b = sizes or (None, None)
    own_a, own_b = own_size(a, known_a), own_size(b, known_b)
    if not (icon_sized(a, own_a) and icon_sized(b, own_b)):
        return False
    turned = turn(a.small, symmetry)
    own_scale = _at_own_scale(a.small, own_a) and _at_own_scale(b.small, own_b)
    pair = _same_size_drawings(turned, b.small, sorted(own_a) == sorted(own_b), own_scale)
    if pair is None:
        return False
    exact = lossless and own_scale and _untouched_share(*pair) >= SAME_DRAWING_UNTOUCHED
    icons = _icons(a, b, sizes) if lossless else _icons(a, b, sizes, LOSSY_TOLERANCE)
    # two small PNG files without a clean margin (a 16 px drawing filling its canvas, or a JPEG copy's pixels)
    unmargined = lossless and own_scale and max(*own_a, *own_b) <= SMALL_GRID and not (exact or all(icons))
    if not (exact or unmargined or all(icons) or not lossless and any(icons)):
        return False
    fa, fb = (x.astype(np.float32) if exact else _blurred(x) for x in pair)
    content = off_corner(fa, turned[0, 0]) | off_corner(fb, b.small[0, 0])
    if content.sum() < MIN_GRID:
        return False
    level = SAME_DRAWING_LEVEL_LOSSLESS if exact else SAME_DRAWING_LEVEL
    share = SAME_DRAWING_SHARE_UNMARGINED if unmargined else (
        SAME_DRAWING_SHARE_LOSSLESS if lossless else SAME_DRAWING_SHARE)
    # either image may be the edited one: another drawing only when neither fits the other
    return _unfitted_share(fa, fb, content, level) > share and _unfitted_share(fb, fa, content, level) > share


def _untouched_share(a: np.ndarray, b: np.ndarray) -> float:
    """Share of the content pixels (of either image) that two images of one shape hold unchanged."""
    content = off_corner(a) | off_corner(b)
    return float((a == b).all(axis=2)[content].mean()) if content.any() else 1.0


def _blurred(small: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(small.astype(np.float32), (0, 0), SAME_DRAWING_BLUR).reshape(small.shape)


def _unfitted_share(source: np.ndarray, target: np.ndarray, content: np.ndarray, level: float) -> float:
    """Share of the ``content`` pixels whose colour in ``target`` is more than ``level`` from ``source``'s
    fitted to it: each channel from itself and the grey level, by least squares (a brightness, contrast or
    saturation edit fits). A colour edit clips: the fit leaves out target channels near 0 or 255 (``CLIPPED``),
    and such a channel differs only when the fit says it should lie inside."""
    grey = luma(source)[..., 0]
    unclipped = content & (target.min(axis=2) > CLIPPED) & (target.max(axis=2) < 255 - CLIPPED)
    fit_on = unclipped if unclipped.sum() >= MIN_GRID else content
    gap = np.empty_like(target)
    for channel in range(3):
        terms = np.stack([source[..., channel], grey, np.ones_like(grey)], axis=-1)
        coefficients, *_ = np.linalg.lstsq(terms[fit_on], target[..., channel][fit_on], rcond=None)
        gap[..., channel] = terms @ coefficients - target[..., channel]
    gap[(target >= 255 - CLIPPED) & (gap > 0)] = 0  # fitted above a clipped white: clipped as fitted
    gap[(target <= CLIPPED) & (gap < 0)] = 0
    return float((np.abs(gap).max(axis=2)[content] > level).mean())


def _same_size_drawings(a: np.ndarray, b: np.ndarray, same_size: bool,
                        own_scale: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """The two small copies of two icons of one size (``same_size``) as they are, or, when both small copies
    are at their icons' own scale (``own_scale``), their content boxes when of one size; else None. A 128 and a
    256 px icon both have a 64 px small copy, yet they are two drawing sizes (a theme may draw each again)."""
    if same_size and a.shape == b.shape:
        return a, b
    if not own_scale:
        return None
    box_a, box_b = content_box(a), content_box(b)
    if box_a is None or box_b is None:
        return None
    cut_a, cut_b = a[box_a[0] : box_a[1], box_a[2] : box_a[3]], b[box_b[0] : box_b[1], box_b[2] : box_b[3]]
    return (cut_a, cut_b) if cut_a.shape == cut_b.shape else None


def _at_own_scale(small: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether a small copy has the image's own pixels (an image no larger than the small copy's side)."""
    return (small.shape[1], small.shape[0]) == tuple(size)


def _on_background(small: np.ndarray, tolerance: int = FRAME_TOLERANCE) -> bool:
    """A margin in the corner colour around the content, and three corners or four in that colour (an icon on
    its background, which a shadow may reach at one corner; a photo with a uniform sky has other colours at its
    lower corners) or an image of icon size (at most ``SMALL_GRID`` a side: a 16 px drawing's shadow may fill
    its lower corners)."""
    corners = small[[0, 0, -1, -1], [0, -1, 0, -1]].astype(np.int16)
    same = int((np.abs(corners - corners[0]).max(axis=1) <= tolerance).sum())
    return (same >= 3 or max(small.shape[:2]) <= SMALL_GRID) and content_box(small, tolerance) is not None


def _content_chroma(small: np.ndarray) -> np.ndarray:
    """Mean (a*, b*) of the pixels off the corner colour (OpenCV's 8-bit CIELAB, 0 = grey)."""
    import cv2

    lab = cv2.cvtColor(np.ascontiguousarray(small, np.uint8), cv2.COLOR_RGB2LAB).reshape(-1, 3)
    content = off_corner(small).ravel()
    return lab[content, 1:].astype(np.float32).mean(axis=0) - 128.0
