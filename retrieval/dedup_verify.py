"""Verifying a candidate pair of images: same picture (and how related) or not, with a confidence.

Two tests, on the stored signatures (``catalog.features``), never on the files:

1. Aligned pixels (candidates from perceptual hashes, which also tell the symmetry): the small grey copies,
   one turned by that symmetry, are compared at ``GRID`` x ``GRID`` after normalising brightness and
   contrast. Copies that were resized, re-encoded, colour-edited, turned grey, blurred, rotated by quarter
   turns or mirrored correlate above ``ALIGNED_SAME`` nearly everywhere; a watermark spoils a few cells only;
   a different picture of the same subject (the same icon's look-alike, a light/dark variant) differs in many.
   Their details (each copy less its blur) must correlate too (``DETAIL_SAME``): two different wallpapers
   with the same smooth gradient correlate well, their details do not. Correlations pool the channels by
   their variance, so a low-contrast picture or a channel without variance does not lower them.
2. Geometry (everything else, e.g. crops, small rotations, borders): ORB keypoints matched with a ratio
   test, a similarity transform (rotation, scale, shift) fitted by RANSAC; enough inliers, and the overlap of
   the two images, warped onto each other, must correlate above ``OVERLAP_SAME`` (a different shot of the
   same scene has consistent keypoints but does not match pixel for pixel). Two icons of one size must fit
   canvas onto canvas (``ICON_REFRAME``): one picture drawn again smaller or moved inside another is no copy.

3. Icon score (icon candidates only, ``dedup_icon_pairs.icon_candidates``): an icon drawn again by hand at
   each size has other pixels than its other drawings, so neither test above holds; its score (colour layout and
   colour histogram of the content, ``dedup_icon_pairs.icon_vectors``) must reach ``ICON_SAME``.

Before these, two icons (``dedup_icons``) are checked for another colour or, drawn at one size, another drawing.

Confidence is 0.5 at the decision threshold and 1.0 at the "certain" value of the test's score, so
``min_confidence`` 0.5 (the default) accepts exactly the pairs the thresholds accept.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..catalog.features import ImageSignature
from .dedup_icons import PairSizes, icons_of_one_size, other_colour_icons, other_drawing_same_size
from .dedup_pixels import MIN_GRID, SMALL_GRID, luma, off_corner, turn

GRID = 64  # largest aligned comparison size (pixels per side)
ALIGNED_SAME = 0.85  # correlation of the aligned copies at the decision threshold
ALIGNED_CERTAIN = 0.97
ALIGNED_SAME_TINY = 0.70  # under SMALL_GRID a side, a small icon redrawn at another size correlates less with it
DETAIL_SAME = 0.72  # detail correlation at the decision threshold (two different smooth wallpapers: < 0.67)
DETAIL_SAME_TINY = 0.50
DIFFERENT_PIXEL = 1.0  # mean absolute difference (standard deviations, 3x3 smoothed) of a differing pixel
MAX_DIFFERING = 0.10  # share of differing pixels at the decision threshold (a watermark covers ~5 %)
CERTAIN_DIFFERING = 0.01
MIN_INLIERS = 10  # RANSAC inliers at the decision threshold
CERTAIN_INLIERS = 40
MIN_INLIER_RATIO = 0.25
MIN_SPREAD = 0.1  # inliers must span this share of the image (not one logo or watermark)
MAX_ERROR = 1.5  # median inlier error (pixels, keypoint image) at the decision threshold: another
CERTAIN_ERROR = 0.5  # shot of the same scene (parallax) fits a similarity transform only roughly
OVERLAP_SAME = 0.85  # correlation of the warped overlap at the decision threshold
OVERLAP_CERTAIN = 0.95
MAX_DIFFERING_OVERLAP = 0.10
ICON_REFRAME = 0.05  # icons of one size fitting only zoomed or moved by more are two drawings (copies: < 0.04)
ICON_SAME = 0.80  # icon score at the decision threshold (chosen on Tango and GNOME with ICON_MARGIN; only best
ICON_CERTAIN = 0.95  # matches of another size are scored, as a look-alike's score overlaps a redrawn size's)
RATIO_TEST = 0.8
RANSAC_PIXELS = 4.0  # reprojection error in the keypoint image (longest side 384)
RANSAC_ITERATIONS = 300  # finds a 2-point fit at MIN_INLIER_RATIO with 99.9 % confidence in ~107 draws;
# pairs without one (most candidates) ran all 2,000 draws before, most of the verification time

# Labels, from the strongest relation down.
EXACT_BYTES = "exact bytes"
SAME_PIXELS = "same pixels"
RESIZED = "resized/re-encoded"
EDITED = "edited"
CROP = "crop"
ROTATION = "rotation"
MIRROR = "mirror"
LABELS = (EXACT_BYTES, SAME_PIXELS, RESIZED, EDITED, CROP, ROTATION, MIRROR)


@dataclass(frozen=True)
class Verdict:
    label: str
    confidence: float  # in [0, 1]; >= 0.5 means "the same picture" under the thresholds above


def verify_pair(a: ImageSignature, b: ImageSignature, symmetry: int | None, icon_score: float | None = None,
                sizes: PairSizes | None = None,
                lossless: bool = False) -> Verdict | None:
    """The verdict on a pair, or None when the tests find no relation. ``symmetry`` (index into
    ``ingest.hashes.DIHEDRAL``) is the turn of ``a`` that made the hashes agree, when a hash found the pair;
    ``icon_score``, for an icon candidate: judged by it when the pixel and geometry tests do not confirm it, and
    its confidence kept when higher than theirs (groups are joined from the most confident pair down);
    ``sizes``: the two images' own (width, height), when known (see ``icon_size``); ``lossless``: both files
    are in a lossless format (see ``other_drawing_same_size``)."""
    if a.pixel_sha == b.pixel_sha:
        return Verdict(SAME_PIXELS, 1.0)
    if other_colour_icons(a, b, sizes):
        return None
    redrawn = other_drawing_same_size(a, b, symmetry or 0, sizes, lossless)  # as the hash aligned them, or upright
    verdict = aligned_verdict(a, b, symmetry) if symmetry is not None and not redrawn else None
    if verdict is None or verdict.confidence < 0.5:
        verdict = _geometric_either_way(a, b, icons_of_one_size(a, b, sizes))
        if redrawn and (verdict is None or verdict.label != ROTATION or verdict.confidence < 0.5):
            return None  # a second drawing of one size, unless a turn it confirms explains the pixels that differ
    icon = icon_verdict(icon_score) if icon_score is not None else None
    if icon is None or verdict is None or verdict.confidence < 0.5:
        return icon or verdict
    return Verdict(verdict.label, max(verdict.confidence, icon.confidence))  # the stronger evidence of the two


def icon_verdict(score: float) -> Verdict | None:
    """The verdict on an icon candidate from its icon score (see ``ICON_SAME``), None below the threshold."""
    confidence = _confidence(score, ICON_SAME, ICON_CERTAIN)
    return Verdict(RESIZED, confidence) if confidence >= 0.5 else None


def aligned_verdict(a: ImageSignature, b: ImageSignature, symmetry: int) -> Verdict | None:
    correlation, detail, differing = aligned_scores(a.small, b.small, symmetry)
    tiny = min(*a.small.shape[:2], *b.small.shape[:2]) < SMALL_GRID and _other_shapes(a.small, b.small)
    confidence = min(_confidence(correlation, ALIGNED_SAME_TINY if tiny else ALIGNED_SAME, ALIGNED_CERTAIN),
                     _confidence(detail, DETAIL_SAME_TINY if tiny else DETAIL_SAME, ALIGNED_CERTAIN),
                     _confidence(-differing, -MAX_DIFFERING, -CERTAIN_DIFFERING))
    if symmetry >= 4:
        label = MIRROR
    elif symmetry:
        label = ROTATION
    elif correlation >= ALIGNED_CERTAIN and differing <= CERTAIN_DIFFERING and _same_colours(a.colour, b.colour):
        label = RESIZED
    else:
        label = EDITED
    return Verdict(label, confidence)


def _other_shapes(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two small copies differ in shape (turns aside). The lower ``ALIGNED_SAME_TINY`` is for a small
    icon redrawn at another size; a copy at the same small size (a 16 px icon re-encoded) needs no leniency,
    and two 16 px drawings that pass only the lenient test are look-alikes (a folder and the folder with an
    emblem)."""
    return sorted(a.shape[:2]) != sorted(b.shape[:2])


def aligned_scores(small_a: np.ndarray, small_b: np.ndarray, symmetry: int) -> tuple[float, float, float]:
    """(correlation, detail correlation, share of differing pixels) of two small RGB copies, ``small_a`` turned
    by ``symmetry``, compared at the smaller one's size (at most ``GRID``). A uniform frame is trimmed: from
    both copies when both have one (two framed pictures are compared without their frames), else the better
    of the copies as they are and trimmed (a framed copy against its original)."""
    turned = turn(small_a, symmetry)
    trimmed_a, trimmed_b = trim_frame(turned), trim_frame(small_b)
    framed_a, framed_b = trimmed_a.shape != turned.shape, trimmed_b.shape != small_b.shape
    tried = [_compare(turned, small_b, inner=framed_a and framed_b)]
    if framed_a or framed_b:
        tried.append(_compare(trimmed_a, trimmed_b))
    return max(tried, key=lambda scores: min(scores[:2]) - scores[2])


def _compare(a: np.ndarray, b: np.ndarray, inner: bool = False) -> tuple[float, float, float]:
    """(correlation, detail correlation, share of differing pixels) over the pixels that are not background in
    both images (background: the corner colour, e.g. the white around an icon or a frame both copies share);
    ``inner``: over the pixels that are background in neither, one pixel in from it (two framed pictures: the
    frames' edges alone would correlate). The detail is each image less its blur at an eighth of its side:
    two smooth gradients correlate, their details do not."""
    import cv2

    side = int(np.clip(min(*a.shape[:2], *b.shape[:2]), MIN_GRID, GRID))
    fa, fb = _square(a, side), _square(b, side)
    if inner:
        mask = cv2.erode((~(_background(fa) | _background(fb))).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    else:
        mask = ~(_background(fa) & _background(fb))
    if mask.sum() < 0.2 * mask.size:
        mask[:] = True
    if _is_grey(fa) or _is_grey(fb):
        fa, fb = luma(fa), luma(fb)
    za, zb = np.zeros_like(fa), np.zeros_like(fb)
    za[mask], zb[mask] = _normalised_channels(fa[mask]), _normalised_channels(fb[mask])
    detail = _correlation(_detail(fa)[mask], _detail(fb)[mask])
    return _correlation(fa[mask], fb[mask]), detail, _differing(np.abs(za - zb).mean(axis=2), mask)


def _detail(image: np.ndarray) -> np.ndarray:
    import cv2

    blurred = cv2.GaussianBlur(image, (0, 0), image.shape[0] / 8).reshape(image.shape)
    return image - blurred


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson correlation of two (pixels, channels) arrays, channels pooled by their variance (a channel
    with no variance, e.g. the blue of a red-to-green gradient, counts for nothing)."""
    da, db = a - a.mean(axis=0), b - b.mean(axis=0)
    spread = float(np.sqrt((da * da).mean(axis=0) * (db * db).mean(axis=0)).sum())
    return float((da * db).mean(axis=0).sum()) / spread if spread > 1e-6 else 0.0


def _background(image: np.ndarray) -> np.ndarray:
    return ~off_corner(image)


def geometric_verdict(a: ImageSignature, b: ImageSignature, in_place: bool = False) -> Verdict | None:
    """The geometry test (module docstring, 2). ``in_place``: the two are icons of one size, whose fit must map
    one canvas onto the other (turned, but zoomed and moved by at most ``ICON_REFRAME``): a theme draws one
    icon's picture again inside another, smaller or moved (a computer in a network icon, a drive in a
    removable-media icon), which is no copy."""
    fit = fit_similarity(a, b)
    if fit is None:
        return None
    matrix, inliers, ratio, error, spread = fit
    if inliers < MIN_INLIERS // 2 or ratio < MIN_INLIER_RATIO or spread < MIN_SPREAD:
        return None
    if in_place and _reframed(matrix, b.analysis_size):
        return None
    overlap, differing, covered = overlap_scores(a, b, matrix)
    confidence = min(_confidence(inliers, MIN_INLIERS, CERTAIN_INLIERS),
                     _confidence(-error, -MAX_ERROR, -CERTAIN_ERROR),
                     _confidence(overlap, OVERLAP_SAME, OVERLAP_CERTAIN),
                     _confidence(-differing, -MAX_DIFFERING_OVERLAP, -CERTAIN_DIFFERING))
    angle = abs(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
    if angle > 2.0:
        label = ROTATION
    elif covered < 0.9:
        label = CROP
    else:
        label = EDITED
    return Verdict(label, confidence)


def _geometric_either_way(a: ImageSignature, b: ImageSignature, in_place: bool) -> Verdict | None:
    """``geometric_verdict`` of a onto b, and when that is under 0.5, of b onto a: the ratio test matches one
    image's keypoints against the other's, so the two readings differ, and a pair's verdict must not depend on
    which image came first (in a library, which was ingested first)."""
    verdict = geometric_verdict(a, b, in_place)
    if verdict is not None and verdict.confidence >= 0.5:
        return verdict
    other = geometric_verdict(b, a, in_place)
    if other is None or (verdict is not None and verdict.confidence >= other.confidence):
        return verdict
    return other


def _reframed(matrix: np.ndarray, size: tuple[int, int]) -> bool:
    """Whether ``matrix`` zooms by more than ``ICON_REFRAME`` or moves the centre of a ``size`` canvas by more
    than ``ICON_REFRAME`` of its longer side."""
    centre = np.asarray(size, np.float64) / 2
    moved = float(np.linalg.norm(matrix[:, :2] @ centre + matrix[:, 2] - centre)) / max(size)
    return abs(float(np.hypot(matrix[0, 0], matrix[1, 0])) - 1.0) > ICON_REFRAME or moved > ICON_REFRAME


def fit_similarity(a: ImageSignature, b: ImageSignature) -> tuple[np.ndarray, int, float, float, float] | None:
    """(2x3 matrix mapping a's keypoint image onto b's, inliers, inlier share of the matches, median inlier
    error in pixels of the keypoint image, share of b's area the inliers span), or None."""
    import cv2

    if len(a.descriptors) < 4 or len(b.descriptors) < 4:
        return None
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(np.ascontiguousarray(a.descriptors), np.ascontiguousarray(b.descriptors), k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < RATIO_TEST * m[1].distance]
    if len(good) < MIN_INLIERS // 2:  # fewer matches than the inliers a verdict needs: no RANSAC
        return None
    src = a.keypoints[[m.queryIdx for m in good]]
    dst = b.keypoints[[m.trainIdx for m in good]]
    matrix, mask = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC,
                                               ransacReprojThreshold=RANSAC_PIXELS, maxIters=RANSAC_ITERATIONS)
    if matrix is None or mask is None:
        return None
    inside = mask.ravel().astype(bool)
    if not inside.any():
        return None
    moved = src[inside] @ matrix[:, :2].T + matrix[:, 2]
    error = float(np.median(np.linalg.norm(moved - dst[inside], axis=1)))
    extent = dst[inside].max(axis=0) - dst[inside].min(axis=0)
    spread = float(extent[0] * extent[1] / (b.analysis_size[0] * b.analysis_size[1]))
    return matrix, int(inside.sum()), float(inside.sum() / len(good)), error, spread


def overlap_scores(a: ImageSignature, b: ImageSignature, matrix: np.ndarray) -> tuple[float, float, float]:
    """(correlation, share of differing pixels, share of the smaller image covered) of the overlap under
    ``matrix``, on the small copies (in colour unless one is grey)."""
    import cv2

    small_a, small_b = a.small.astype(np.float32), b.small.astype(np.float32)
    if _is_grey(small_a) or _is_grey(small_b):
        small_a, small_b = luma(small_a), luma(small_b)
    warp = matrix.astype(np.float64).copy()  # small a coordinates -> small b coordinates
    to_small_a, to_small_b = small_a.shape[1] / a.analysis_size[0], small_b.shape[1] / b.analysis_size[0]
    warp[:, :2] *= to_small_b / to_small_a
    warp[:, 2] *= to_small_b
    size = (small_b.shape[1], small_b.shape[0])
    warped = cv2.warpAffine(small_a, warp, size, flags=cv2.INTER_LINEAR).reshape(*small_b.shape[:2], -1)
    mask = cv2.warpAffine(np.ones(small_a.shape[:2], np.uint8), warp, size, flags=cv2.INTER_NEAREST)
    mask = cv2.erode(mask, np.ones((3, 3), np.uint8)).astype(bool)
    if mask.sum() < 64:
        return 0.0, 1.0, 0.0
    za, zb = np.zeros_like(small_b), np.zeros_like(small_b)
    za[mask], zb[mask] = _normalised_channels(warped[mask]), _normalised_channels(small_b[mask])
    correlation = float((za[mask] * zb[mask]).mean())
    differing = _differing(np.abs(za - zb).mean(axis=2), mask)
    scale = float(np.hypot(warp[0, 0], warp[1, 0])) or 1.0
    covered = min(mask.sum() / mask.size, mask.sum() / (scale * scale) / (small_a.shape[0] * small_a.shape[1]))
    return correlation, differing, float(covered)


def trim_frame(small: np.ndarray) -> np.ndarray:
    """``small`` without a uniform frame (a border, a matte) in its corner colour, when the frame is thin:
    a frame would otherwise dominate the comparison of two framed pictures."""
    content = off_corner(small)
    rows, cols = np.flatnonzero(content.any(axis=1)), np.flatnonzero(content.any(axis=0))
    if not len(rows) or not len(cols):
        return small
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    if (bottom - top) * (right - left) < 0.5 * content.size or (bottom - top, right - left) == content.shape:
        return small
    inset = 1 if min(bottom - top, right - left) > 8 else 0  # the row where frame and picture blend
    return small[top + inset : bottom - inset, left + inset : right - inset]


def _square(image: np.ndarray, side: int) -> np.ndarray:
    import cv2

    return cv2.resize(image.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA).reshape(side, side, -1)


def _is_grey(image: np.ndarray) -> bool:
    return bool((image.max(axis=2) - image.min(axis=2)).mean() < 6.0)


def _normalised_channels(values: np.ndarray) -> np.ndarray:
    """Each channel (last axis) to zero mean and unit deviation over all other axes."""
    axes = tuple(range(values.ndim - 1))
    return (values - values.mean(axis=axes)) / (values.std(axis=axes) + 1.0)


def _differing(residual: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Share of pixels (within ``mask``) whose 3x3-smoothed residual exceeds DIFFERENT_PIXEL."""
    import cv2

    smooth = cv2.blur(residual.astype(np.float32), (3, 3))
    if mask is None:
        return float((smooth > DIFFERENT_PIXEL).mean())
    return float((smooth[mask] > DIFFERENT_PIXEL).mean())


def _same_colours(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.abs(a - b).max() <= 4.0)


def _confidence(score: float, threshold: float, certain: float) -> float:
    """0.5 at ``threshold``, 1.0 at or above ``certain``, falling linearly to 0 at twice the distance below."""
    position = (score - threshold) / (certain - threshold)
    return round(float(np.clip(0.5 + 0.5 * position, 0.0, 1.0)), 3)
