"""What the icon rules cost in copies (edited copies of the tuning sets' icons not grouped with their original)
and what they catch (same-size look-alikes grouped, as PNG and saved as JPEG)."""

from __future__ import annotations

import io
import statistics
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from PIL import Image, ImageEnhance

from mmrag.retrieval.dedup_groups import DupItem, group_duplicates

from .scoring import load_items

ICON_EDITS = {  # name -> (edit, JPEG quality or None, read as a lossless file)
    "brighter 1.3, PNG": (lambda im: ImageEnhance.Brightness(im).enhance(1.3), None, True),
    "brighter 1.2 + saturated 1.5, PNG": (
        lambda im: ImageEnhance.Color(ImageEnhance.Brightness(im).enhance(1.2)).enhance(1.5), None, True),
    "contrast 1.3, PNG": (lambda im: ImageEnhance.Contrast(im).enhance(1.3), None, True),
    "JPEG 75": (lambda im: im, 75, False),
    "JPEG 75 saved as PNG": (lambda im: im, 75, True),
    "brighter 1.3, JPEG 75 saved as PNG": (lambda im: ImageEnhance.Brightness(im).enhance(1.3), 75, True),
    "turned 10 degrees, PNG": (
        lambda im: im.rotate(10, Image.Resampling.BICUBIC, fillcolor=im.getpixel((0, 0))), None, True),
}


def icon_edit_misses(root: Path, kind: str, sides: tuple[int, ...]) -> dict[int, dict[str, float]]:
    """For each side in ``sides``: the share of edited copies of the set's icons of at most that many px that the
    cascade does not group with their original (each original and its copy alone, as PNG or JPEG files, through
    ``group_duplicates``). Each copy is judged once, for every side it falls under."""
    from mmrag.ingest.hashes import compute_signature

    items, _, _ = load_items(root, kind)
    misses: dict[int, dict[str, list[bool]]] = {side: defaultdict(list) for side in sides}
    for item in items:
        largest = max(item.width, item.height)
        if largest > max(sides):
            continue
        image = Image.open(root / item.path).convert("RGB")
        for name, (edit, quality, lossless) in ICON_EDITS.items():
            copy = _jpeg_round_trip(edit(image), quality) if quality else edit(image)
            edited = DupItem(1, f"{item.path}.copy", "copy", compute_signature(copy), copy.width, copy.height,
                             item.size, "PNG" if lossless else "JPEG")
            missed = not group_duplicates([replace(item, id=0), edited])
            for side in sides:
                if largest <= side:
                    misses[side][name].append(missed)
    return {side: {name: round(statistics.mean(found), 3) for name, found in by_edit.items()}
            for side, by_edit in misses.items()}


def _jpeg_round_trip(image: Image.Image, quality: int) -> Image.Image:
    """``image`` as a JPEG file of ``quality`` would decode."""
    data = io.BytesIO()
    image.save(data, "JPEG", quality=quality)
    return Image.open(data).convert("RGB")


def jpeg_lookalikes(root: Path, kind: str, max_side: int = 64) -> dict[str, float | int]:
    """Look-alikes of one size that the aligned test accepts (icons of at most ``max_side`` px of other
    families), as PNG, one or both saved as JPEG (quality 75): the share the cascade groups, each pair alone."""
    from mmrag.ingest.hashes import compute_signature
    from mmrag.retrieval.dedup_verify import aligned_verdict

    items, labels, _ = load_items(root, kind)
    by_size: dict[tuple[int, int], list[DupItem]] = defaultdict(list)
    for item in items:
        if max(item.width, item.height) <= max_side:
            by_size[(item.width, item.height)].append(item)
    def as_jpeg(item: DupItem, new_id: int) -> DupItem:
        signature = compute_signature(_jpeg_round_trip(Image.open(root / item.path).convert("RGB"), 75))
        return replace(item, id=new_id, sha256=f"jpeg{new_id}", signature=signature, format="JPEG")

    grouped = {"both PNG": 0, "one JPEG 75": 0, "both JPEG 75": 0}
    pairs = 0
    for members in by_size.values():
        for n, a in enumerate(members):
            for b in members[n + 1:]:
                verdict = aligned_verdict(a.signature, b.signature, 0)
                if labels[a.path]["group"] == labels[b.path]["group"] or verdict is None or verdict.confidence < 0.5:
                    continue
                pairs += 1
                grouped["both PNG"] += bool(group_duplicates([replace(a, id=0), replace(b, id=1)]))
                grouped["one JPEG 75"] += bool(group_duplicates([replace(a, id=0), as_jpeg(b, 1)]))
                grouped["both JPEG 75"] += bool(group_duplicates([as_jpeg(a, 0), as_jpeg(b, 1)]))
    return {"pairs": pairs, **{k: round(v / max(1, pairs), 3) for k, v in grouped.items()}}


def unmargined_shares(root: Path, kind: str) -> dict[str, object]:
    """How ``SAME_DRAWING_SHARE_UNMARGINED`` was chosen: for PNG icons of at most ``SMALL_GRID`` px and their
    lossless copies, where the two are not both icons with a clean margin, the share of content that differs
    under the blurred one-size test (the lower of the two fitting directions), its 99th percentile and largest
    value per kind of copy; and the same share for the same-size look-alikes (other icons) that the aligned
    test accepts."""
    import numpy as np

    from mmrag.ingest.hashes import compute_signature
    from mmrag.retrieval.dedup_icons import SAME_DRAWING_LEVEL, _blurred, _unfitted_share, icon_size
    from mmrag.retrieval.dedup_pixels import SMALL_GRID, off_corner
    from mmrag.retrieval.dedup_verify import aligned_verdict

    def share(a: np.ndarray, b: np.ndarray) -> float:
        fa, fb = _blurred(a), _blurred(b)
        content = off_corner(fa, a[0, 0]) | off_corner(fb, b[0, 0])
        return min(_unfitted_share(fa, fb, content, SAME_DRAWING_LEVEL),
                   _unfitted_share(fb, fa, content, SAME_DRAWING_LEVEL))

    def unmargined(a: DupItem, signature: object, size: tuple[int, int]) -> bool:
        return icon_size(a.signature, size) is None or icon_size(signature, size) is None  # type: ignore[arg-type]

    items, labels, _ = load_items(root, kind)
    small = [item for item in items if max(item.width, item.height) <= SMALL_GRID]
    copies: dict[str, list[float]] = defaultdict(list)
    for item in small:
        image = Image.open(root / item.path).convert("RGB")
        for name, (edit, quality, lossless) in ICON_EDITS.items():
            if not lossless or name.startswith("turned"):
                continue
            copy = compute_signature(_jpeg_round_trip(edit(image), quality) if quality else edit(image))
            if unmargined(item, copy, (item.width, item.height)):
                copies[name].append(share(item.signature.small, copy.small))
    look_alikes = []
    for n, a in enumerate(small):
        for b in small[n + 1:]:
            size = (a.width, a.height)
            if (size != (b.width, b.height) or labels[a.path]["group"] == labels[b.path]["group"]
                    or not unmargined(a, b.signature, size)):
                continue
            verdict = aligned_verdict(a.signature, b.signature, 0)
            if verdict is not None and verdict.confidence >= 0.5:
                look_alikes.append(round(share(a.signature.small, b.signature.small), 3))
    return {"copies (count, 99th percentile, largest)": {
                name: (len(values), round(float(np.quantile(values, 0.99)), 3), round(max(values), 3))
                for name, values in copies.items() if values},
            "look-alikes the aligned test accepts": sorted(look_alikes)}
