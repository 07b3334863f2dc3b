"""Icon candidates: icons drawn again by hand at each size of a theme (other pixels, other margins, an emblem moved)
that the pixel tests cannot relate, paired by a coarse description of their content.

An icon here is any image of at most ``dedup_icons.ICON_MAX_SIDE`` px a side by its own size (the caller,
``dedup_groups.icon_pairs``, passes the sizes; a 16 px drawing often fills its canvas, so no margin is asked
for), described by ``icon_vectors`` (colour layout and colour histogram of its content). Its own drawing at
another size is usually its best match among the icons of that size, but its look-alikes (the same category's
folders, documents, discs) score nearly as high, so no absolute score separates them, and only a best match is
kept, never every close one:

- each icon of at most ``ICON_SIDE`` px (the 16-32 px drawings, furthest from the large one) with its nearest
  icon of another size and its nearest larger icon (the 16 and 22 px drawings are often each other's nearest,
  and then neither would reach the 32+ px ones), unless another icon of that size among its neighbours scores
  within ``NEAREST_LEAD`` (two drawings that differ in a detail, such as one arrow's shade: the small one cannot
  tell which is its own);
- any two icons of other sizes that are each other's best match among the icons of the other's size (mutual),
  with a lead of ``ICON_MARGIN`` over the runner-up of that size in both directions: a theme draws each icon
  once a size, so a clear, mutual first choice is its own drawing, and an ambiguous one is left out.

Of two icons of one size that take the same icon as their best match of its size, only one keeps it
(``_best_per_size``): the pairs between two sizes are one to one.

``dedup_groups`` then never lets a link join two groups that both hold, at one drawing size, two images that are
no pair.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .dedup_candidates import area_weights, nearest_rows, shape_batches
from .dedup_pixels import off_corner

ICON_SIDE = 32  # icons up to this size (px a side) also take their nearest other size and nearest larger icon
ICON_NEIGHBOURS = 24  # nearest icons searched per icon (best and runner-up of each other size among them)
ICON_MARGIN = 0.10  # lead of a mutual best match over the runner-up of its size (chosen on Tango and GNOME)
NEAREST_LEAD = 0.005  # lead of a small icon's nearest (larger) icon over the runner-up of that size: a near tie
CONTEST_MARGIN = 0.03  # lead by which another icon of one size takes a shared best match (Tango, GNOME: true
# links were outbid by 0.017 or less, look-alike links by 0.050 or more)
ICON_GRID = 8  # colour layout cells per side
ICON_LEVELS = 4  # histogram levels per channel (64 colour bins)
EDGE_SIDE = 32  # the content is compared in grey at this size for its edge layout
EDGE_CELLS = 4  # edge layout cells per side
EDGE_ORIENTATIONS = 8  # orientation bins (of 180 degrees) per cell


def icon_candidates(smalls: Sequence[np.ndarray], sizes: Sequence[tuple[int, int] | None],
                    min_score: float) -> dict[tuple[int, int], float]:
    """{(i, j): icon score} (i < j) over the images whose ``sizes`` entry (their icon size) is set, at or above
    ``min_score``: the pairs of the module docstring, between icons of other sizes (of the canvas and of the
    content box: Tango's 24 px icon is its 22 px drawing with a margin, which the pixel tests find). ``sizes``:
    each image's own (width, height), None for an image that is not an icon."""
    members = [(n, sorted(size)) for n, size in enumerate(sizes) if size]
    if len(members) < 2:
        return {}
    icons = np.asarray([n for n, _ in members], np.int64)
    own = np.asarray([size for _, size in members], np.int64)
    vectors, boxes = icon_vectors([smalls[n] for n in icons])
    codes = np.unique(own, axis=0, return_inverse=True)[1].ravel()
    rows, cols, scores = nearest_rows(vectors, np.arange(len(icons)), ICON_NEIGHBOURS)
    floor = _lowest_per_query(rows, scores, len(icons))
    other = (codes[rows] != codes[cols]) & (boxes[rows] != boxes[cols]).any(axis=1)
    rows, cols, scores = rows[other], cols[other], scores[other]
    order = np.lexsort((-scores, rows))  # nearest first per query (the scores are exact, also after a PCA)
    rows, cols, scores = rows[order], cols[order], scores[order]
    best = _best_per_size(rows, cols, scores, codes, floor)
    nearest = _nearest_of_small_icons(rows, cols, own.max(axis=1))
    found = {pair: score for pair, (score, lead, tie, contested) in best.items() if not contested
             and ((pair in nearest and not (tie and lead < NEAREST_LEAD))
                  or (pair[::-1] in best and min(lead, best[pair[::-1]][1]) >= ICON_MARGIN))}
    return {(int(icons[min(r, c)]), int(icons[max(r, c)])): score
            for (r, c), score in found.items() if score >= min_score}


def _nearest_of_small_icons(rows: np.ndarray, cols: np.ndarray, side: np.ndarray) -> set[tuple[int, int]]:
    """(query, neighbour): each icon of at most ``ICON_SIDE`` with its nearest neighbour and its nearest larger
    neighbour (rows grouped by query, nearest first)."""
    small = side[rows] <= ICON_SIDE
    keep = small & _first_of(rows)
    larger = np.flatnonzero(small & (side[cols] > side[rows]))
    keep[larger[_first_of(rows[larger])]] = True
    return set(zip(rows[keep].tolist(), cols[keep].tolist(), strict=True))


def _best_per_size(rows: np.ndarray, cols: np.ndarray, scores: np.ndarray, codes: np.ndarray,
                   floor: np.ndarray) -> dict[tuple[int, int], tuple[float, float, bool, bool]]:
    """{(query, neighbour): (score, lead, found, contested)} for each query's best match of each other size: its
    lead over the runner-up of that size; whether that runner-up is among the query's neighbours (if not, it
    scores at most the query's lowest neighbour score, ``floor``, which the lead is taken from); and whether
    the match is also the best match of another query of the query's size whose lead is larger by over
    ``CONTEST_MARGIN``. A theme draws each icon once a size, so of two icons of one size that take the same
    icon as their best match, only one is its drawing, and the one that would lose more by taking its
    runner-up keeps it (a 16 px speaker with two waves is nearest the 24 px one with three, 0.026 ahead of its
    own 24 px drawing; the 16 px speaker with three waves is 0.115 ahead)."""
    order = np.lexsort((-scores, codes[cols], rows))
    rows, cols, scores = rows[order], cols[order], scores[order]
    size_count = int(codes.max()) + 1
    slot = rows * size_count + codes[cols]  # (query, size of the match)
    first = np.flatnonzero(_first_of(slot))
    second = np.minimum(first + 1, len(slot) - 1)
    found = (first + 1 < len(slot)) & (slot[second] == slot[first])
    lead = scores[first] - np.where(found, scores[second], floor[rows[first]])
    claim = cols[first] * size_count + codes[rows[first]]  # (match, size of the query)
    claims = np.unique(claim, return_inverse=True)[1].ravel()
    leader = np.full(int(claims.max(initial=-1)) + 1, -np.inf, np.float32)
    np.maximum.at(leader, claims, lead)
    contested = leader[claims] > lead + CONTEST_MARGIN
    return dict(zip(zip(rows[first].tolist(), cols[first].tolist(), strict=True),
                    zip(scores[first].tolist(), lead.tolist(), found.tolist(), contested.tolist(), strict=True),
                    strict=True))


def _first_of(keys: np.ndarray) -> np.ndarray:
    """Whether each entry is the first of its run of equal keys."""
    return np.r_[True, keys[1:] != keys[:-1]] if len(keys) else np.zeros(0, bool)


def _lowest_per_query(rows: np.ndarray, scores: np.ndarray, queries: int) -> np.ndarray:
    """Each query's lowest neighbour score: an upper bound of any icon not among its neighbours."""
    lowest = np.full(queries, np.inf, np.float32)
    np.minimum.at(lowest, rows, scores)
    lowest[np.isinf(lowest)] = -1.0
    return lowest


def icon_vectors(smalls: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows whose dot product is the mean of three similarities of the images' content (the box around the
    pixels that differ from the corner colour): the correlation of its colour layout (area means on an
    ``ICON_GRID`` x ``ICON_GRID`` grid, each channel centred), the Bhattacharyya coefficient of its colour
    histograms (``ICON_LEVELS`` levels a channel) and the cosine of its edge layout (``_edge_layouts``). A
    redrawn size of an icon keeps all three; a look-alike of its category (another emblem, other colours, other
    lines) loses some of one. Also the (height, width) of each content box. Computed per shape in batches; only
    images with a margin are cut to their box one by one."""
    cells = 3 * ICON_GRID * ICON_GRID
    colours = cells + ICON_LEVELS**3
    rows = np.zeros((len(smalls), colours + EDGE_CELLS**2 * EDGE_ORIENTATIONS), np.float32)
    boxes = np.zeros((len(smalls), 2), np.int64)
    for part, batch in shape_batches(smalls):
        content = off_corner(batch)
        content[~content.any(axis=(1, 2))] = True  # one colour: all of it is the content
        rows[part, cells:colours] = _colour_histograms(batch, content)
        top, bottom = _extent(content.any(axis=2))
        left, right = _extent(content.any(axis=1))
        boxes[part] = np.stack([bottom - top, right - left], axis=1)
        whole = (boxes[part] == batch.shape[1:3]).all(axis=1)
        if whole.any():
            rows[part[whole], :cells] = _layouts(batch[whole])
        for k in np.flatnonzero(~whole).tolist():
            rows[part[k], :cells] = _layouts(batch[k, top[k] : bottom[k], left[k] : right[k]][None])[0]
        grey = batch.astype(np.float32).mean(axis=3)
        crops = [grey[k, top[k] : bottom[k], left[k] : right[k]] for k in range(len(batch))]
        rows[part, colours:] = _edge_layouts(crops)
    return rows / np.sqrt(3.0), boxes


def _edge_layouts(greys: list[np.ndarray]) -> np.ndarray:
    """(m, EDGE_CELLS**2 * EDGE_ORIENTATIONS) unit rows: each grey crop at ``EDGE_SIDE`` px, its Sobel gradients'
    orientations (mod 180 degrees, so dark-on-light and light-on-dark lines agree) histogrammed per cell of an
    ``EDGE_CELLS`` x ``EDGE_CELLS`` grid, weighted by magnitude, square-rooted (a HOG-like layout of the lines: a
    redrawn size keeps where its outlines run, whatever its pixels). All crops go through OpenCV at once, as
    one tall image of crops each padded with its own mirrored border (OpenCV's default), so no filter crosses
    from one crop into the next."""
    import cv2

    side, count = EDGE_SIDE, len(greys)
    resized = np.stack([cv2.resize(grey, (side, side), interpolation=cv2.INTER_AREA) for grey in greys])
    tall = np.pad(resized, ((0, 0), (1, 1), (1, 1)), mode="reflect").reshape(count * (side + 2), side + 2)
    gx, gy = (np.ascontiguousarray(cv2.Sobel(tall, cv2.CV_32F, dx, 1 - dx).reshape(count, side + 2, side + 2)
                                   [:, 1:-1, 1:-1]).reshape(count * side, side) for dx in (1, 0))
    magnitude, degrees = cv2.cartToPolar(gx, gy, angleInDegrees=True)
    orientation = (degrees * (EDGE_ORIENTATIONS / 180.0)).astype(np.int32) % EDGE_ORIENTATIONS
    cell = np.arange(side, dtype=np.int32) * EDGE_CELLS // side
    per_image = EDGE_CELLS**2 * EDGE_ORIENTATIONS
    bins = (((cell[:, None] * EDGE_CELLS + cell[None, :]) * EDGE_ORIENTATIONS)[None]
            + orientation.reshape(count, side, side) + (np.arange(count, dtype=np.int32) * per_image)[:, None, None])
    histograms = np.sqrt(np.bincount(bins.ravel(), magnitude.ravel(), count * per_image))
    histograms = histograms.reshape(count, per_image).astype(np.float32)
    return histograms / (np.linalg.norm(histograms, axis=1, keepdims=True) + 1e-6)


def _extent(found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first, last + 1) index of True along axis 1 of a (m, size) array with a True in every row."""
    return found.argmax(axis=1), found.shape[1] - found[:, ::-1].argmax(axis=1)


def _layouts(batch: np.ndarray) -> np.ndarray:
    """(m, 3 * ICON_GRID**2) unit rows: area means of m RGB images of one shape, each channel centred."""
    grid = np.einsum("gh,mhwc,kw->mgkc", area_weights(batch.shape[1], ICON_GRID), batch.astype(np.float32),
                     area_weights(batch.shape[2], ICON_GRID), optimize=True).reshape(len(batch), -1, 3)
    grid = (grid - grid.mean(axis=1, keepdims=True)).reshape(len(batch), -1)
    return grid / (np.linalg.norm(grid, axis=1, keepdims=True) + 1e-6)


def _colour_histograms(batch: np.ndarray, content: np.ndarray) -> np.ndarray:
    """(m, ICON_LEVELS**3) square roots of the colour histograms (shares) of the content pixels."""
    levels = batch.astype(np.int64) * ICON_LEVELS // 256
    bins = ((levels[..., 0] * ICON_LEVELS + levels[..., 1]) * ICON_LEVELS + levels[..., 2]).reshape(len(batch), -1)
    bins += (np.arange(len(batch)) * ICON_LEVELS**3)[:, None]
    counts = np.bincount(bins.ravel(), weights=content.reshape(-1), minlength=len(batch) * ICON_LEVELS**3)
    counts = counts.reshape(len(batch), -1)
    return np.sqrt(counts / counts.sum(axis=1, keepdims=True))


