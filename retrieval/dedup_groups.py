"""The duplicate cascade over in-memory items: exact hashes -> cheap candidates -> verification -> groups.

1. Exact: files with the same bytes (sha256) are "exact bytes"; different files decoding to the same pixels
   are "same pixels". One representative of each pixel content goes on.
2. Candidates (``dedup_candidates``): perceptual hashes under the 8 symmetries, tiny-image neighbours, shared
   ORB descriptors, embedding neighbours when vectors are given; icons' best matches of other sizes
   (``dedup_icon_pairs``).
3. Verification (``dedup_verify``): aligned pixels for hash candidates, else ORB + RANSAC geometry; an icon
   candidate that fails both is judged by its icon score.
4. Groups are the connected components of pairs with confidence >= ``min_confidence``, joined from the most
   confident pair down, never joining two groups that both hold, at one drawing size, two images that are no
   pair (``build_groups``); each names its best original (``best_original``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from ..catalog.features import ImageSignature
from . import dedup_candidates as candidates
from .dedup_icon_pairs import icon_candidates
from .dedup_icons import icon_size, icon_sized
from .dedup_pixels import SMALL_GRID
from .dedup_verify import EXACT_BYTES, ICON_SAME, SAME_PIXELS, Verdict, verify_pair
from .hits import DuplicateGroup, DuplicatePair

DEFAULT_MIN_CONFIDENCE = 0.5
LOSSLESS_FORMATS = frozenset({"PNG", "TIFF", "BMP", "GIF", "PPM", "QOI"})
EXACT_RESAVE_FORMATS = LOSSLESS_FORMATS - {"GIF"}  # re-saving keeps every pixel (a GIF may get a new palette)


@dataclass(frozen=True)
class DupItem:
    """One image as the cascade sees it."""

    id: int
    path: str
    sha256: str
    signature: ImageSignature
    width: int
    height: int
    size: int  # file bytes
    format: str | None = None
    taken_at: datetime | None = None


def group_duplicates(items: Sequence[DupItem], *, vectors: np.ndarray | None = None,
                     min_confidence: float = DEFAULT_MIN_CONFIDENCE) -> list[DuplicateGroup]:
    """Groups of copies among ``items``; ``vectors`` (one L2-normalised row per item) add embedding candidates."""
    if not 0.0 <= min_confidence <= 1.0:
        raise ValueError(f"min_confidence must be between 0 and 1, got {min_confidence}")
    pairs, unique = exact_pairs(items)
    for (i, j), verdict in verified_pairs(items, unique, vectors).items():
        if verdict.confidence >= min_confidence:
            pairs.append(DuplicatePair(items[i].id, items[j].id, verdict.label, verdict.confidence))
    return build_groups(items, pairs)


def exact_pairs(items: Sequence[DupItem]) -> tuple[list[DuplicatePair], list[int]]:
    """Pairs of identical bytes / identical pixels, and the positions of one item per distinct pixel content."""
    pairs: list[DuplicatePair] = []
    first_by_sha: dict[str, int] = {}
    first_by_pixels: dict[str, int] = {}
    unique: list[int] = []
    for position, item in enumerate(items):
        if item.sha256 in first_by_sha:
            pairs.append(DuplicatePair(items[first_by_sha[item.sha256]].id, item.id, EXACT_BYTES, 1.0))
            continue
        first_by_sha[item.sha256] = position
        pixels = item.signature.pixel_sha
        if pixels in first_by_pixels:
            pairs.append(DuplicatePair(items[first_by_pixels[pixels]].id, item.id, SAME_PIXELS, 1.0))
            continue
        first_by_pixels[pixels] = position
        unique.append(position)
    return pairs, unique


def candidate_pairs(items: Sequence[DupItem], unique: list[int],
                    vectors: np.ndarray | None) -> dict[tuple[int, int], int | None]:
    """{(i, j): symmetry or None} over item positions, from every cheap signal."""
    phashes = np.stack([np.frombuffer(items[p].signature.phashes, np.uint8).reshape(8, 8) for p in unique]) \
        if unique else np.zeros((0, 8, 8), np.uint8)
    found: dict[tuple[int, int], int | None] = {}
    best_distance: dict[tuple[int, int], int] = {}
    for (i, j), (symmetry, distance) in candidates.hash_candidates(phashes).items():
        a, b = unique[i], unique[j]
        key, turn = ((a, b), symmetry) if a < b else ((b, a), _inverse(symmetry))
        if distance < best_distance.get(key, 65):
            best_distance[key] = distance
            found[key] = turn
    smalls = [items[p].signature.small for p in unique]
    for i, j in candidates.vector_candidates(candidates.tiny_vectors(smalls), candidates.TINY_NEIGHBOURS,
                                             candidates.MIN_TINY_COSINE):
        found.setdefault((unique[i], unique[j]), 0)
    extra = candidates.feature_candidates([items[p].signature.descriptors for p in unique])
    if vectors is not None and len(unique) > 1:
        extra |= candidates.vector_candidates(vectors[unique])
    for i, j in extra:
        found.setdefault((unique[i], unique[j]), None)
    return found


def icon_pairs(items: Sequence[DupItem], unique: list[int]) -> dict[tuple[int, int], float]:
    """{(i, j): icon score} over item positions (``dedup_icon_pairs``; images of icon size, ``icon_sized``,
    by their own size)."""
    found = icon_candidates([items[p].signature.small for p in unique],
                            [icon_sized(items[p].signature, _own_size(items[p])) for p in unique], ICON_SAME)
    return {(unique[i], unique[j]): score for (i, j), score in found.items()}


def verified_pairs(items: Sequence[DupItem], unique: list[int],
                   vectors: np.ndarray | None) -> dict[tuple[int, int], Verdict]:
    """Verdicts on every candidate pair that the tests relate (icon candidates with their icon score)."""
    pairs = candidate_pairs(items, unique, vectors)
    icons = icon_pairs(items, unique)
    for pair in icons:
        pairs.setdefault(pair, 0)
    verdicts: dict[tuple[int, int], Verdict] = {}
    for (i, j), symmetry in pairs.items():
        verdict = verify_pair(items[i].signature, items[j].signature, symmetry, icons.get((i, j)),
                              (_own_size(items[i]), _own_size(items[j])), _exact_resaves(items[i], items[j]))
        if verdict is not None:
            verdicts[(i, j)] = verdict
    return verdicts


def _own_size(item: DupItem) -> tuple[int, int] | None:
    return (item.width, item.height) if item.width and item.height else None


def _exact_resaves(a: DupItem, b: DupItem) -> bool:
    """Both files in one format whose re-saving keeps every pixel (two such files that differ were edited or
    drawn apart; see ``dedup_icons.other_drawing_same_size``)."""
    return _format(a) == _format(b) and _format(a) in EXACT_RESAVE_FORMATS


def _format(item: DupItem) -> str:
    return (item.format or "").upper()


def _inverse(symmetry: int) -> int:
    """The symmetry that undoes ``symmetry`` (quarter turns invert; mirrors are their own inverse)."""
    return (4 - symmetry) % 4 if symmetry < 4 else symmetry


def best_original(members: Sequence[DupItem]) -> DupItem:
    """The copy to keep: most pixels; then a lossless format over a lossy one; then, between lossy files, more
    bytes per pixel (less compressed; a lossless file's bytes say how well it was packed, not its quality);
    then the oldest (EXIF date taken, else file time); then the lowest id."""
    def key(item: DupItem) -> tuple[int, int, float, float, int]:
        pixels = max(1, item.width * item.height)
        lossy = _format(item) not in LOSSLESS_FORMATS
        taken = item.taken_at.timestamp() if item.taken_at else float("inf")
        return (-pixels, int(lossy), -item.size / pixels if lossy else 0.0, taken, item.id)

    return min(members, key=key)


def build_groups(items: Sequence[DupItem], pairs: list[DuplicatePair]) -> list[DuplicateGroup]:
    """Connected components of ``pairs``, joined from the most confident pair down. A pair that would join two
    groups which both hold an icon of one size (``drawing_size``) is left out unless every two such icons of
    that size are a pair themselves: a theme draws each icon once a size, so two unrelated drawings of one size
    in a group are two icons, joined through a look-alike (a folder and the folder with a home emblem, linked
    by their redrawn 16 px sizes), while copies of one size (a JPEG copy, an edited copy) are related pairs."""
    by_id = {item.id: item for item in items}
    pixels = {item.id: item.signature.pixel_sha for item in items}
    related = {(pixels[p.a], pixels[p.b]) for p in pairs} | {(pixels[p.b], pixels[p.a]) for p in pairs}
    parent: dict[int, int] = {}
    sized: dict[int, dict[tuple[int, int], set[str]]] = {}  # group root -> drawing size -> its pixel contents
    for item in items:
        size = drawing_size(item)
        sized[item.id] = {size: {pixels[item.id]}} if size else {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    kept: list[DuplicatePair] = []
    for pair in sorted(pairs, key=lambda p: -p.confidence):
        ra, rb = find(pair.a), find(pair.b)
        if ra != rb:
            if _unrelated_of_one_size(sized[ra], sized[rb], related):
                continue
            root, other = min(ra, rb), max(ra, rb)
            parent[other] = root
            for size, ids in sized.pop(other).items():
                sized[root].setdefault(size, set()).update(ids)
        kept.append(pair)
    members: dict[int, list[int]] = {}
    for node in list(parent):
        members.setdefault(find(node), []).append(node)
    pairs_of: dict[int, list[DuplicatePair]] = {}
    for pair in kept:
        pairs_of.setdefault(find(pair.a), []).append(pair)
    groups = [_group([by_id[i] for i in ids], pairs_of.get(root, [])) for root, ids in members.items() if len(ids) > 1]
    return sorted(groups, key=lambda g: (-len(g.ids), g.ids[0]))


def drawing_size(item: DupItem) -> tuple[int, int] | None:
    """The size at which a theme draws an image once: an icon's (``dedup_icons.icon_size``), or the own size of
    any image of at most ``SMALL_GRID`` a side (a 16 px drawing may fill its canvas, with no margin); None
    for other images."""
    own = _own_size(item)
    size = icon_size(item.signature, own)
    if size is None and own and max(own) <= SMALL_GRID:
        size = own
    return tuple(sorted(size)) if size else None


def _unrelated_of_one_size(ours: dict[tuple[int, int], set[str]], theirs: dict[tuple[int, int], set[str]],
                           related: set[tuple[str, str]]) -> bool:
    """Whether two groups hold, at one drawing size, two pixel contents that are no pair (of ``related``)."""
    if len(ours) > len(theirs):
        ours, theirs = theirs, ours
    return any(x != y and (x, y) not in related for size, drawings in ours.items() if size in theirs
               for x in drawings for y in theirs[size])


def _group(members: list[DupItem], pairs: list[DuplicatePair]) -> DuplicateGroup:
    best = best_original(members)
    ordered = [best] + sorted((m for m in members if m.id != best.id), key=lambda m: m.id)
    return DuplicateGroup(
        ids=[m.id for m in ordered], paths=[m.path for m in ordered], best_id=best.id,
        confidence=min(p.confidence for p in pairs), pairs=sorted(pairs, key=lambda p: (p.a, p.b)),
    )
