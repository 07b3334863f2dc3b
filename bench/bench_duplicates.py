"""Near-duplicate benchmark: quality on a labelled set, against a pHash-only baseline, and time at scale.

Quality (``--data``, built by bench/dup_eval/build_set.py when missing): signatures are computed from the
files as ingest does; the cascade (retrieval.dedup_groups) and the baseline (pHash within 10 bits, grouped
transitively: the old candidate step, with no confirmation) run on the same images. Pairwise precision /
recall / F1 count every pair of images put in one group; per edit, recall of (original, edited copy) pairs
(icons: pairs of the smaller size with any other size). "look-alike groups": groups mixing two different
pictures. Four icon sets: ``icons`` (Tango) and ``icons-gnome``, on which the icon parameters were chosen, and
``icons-oxygen`` and ``icons-mate``, held out; each also read "sparse" (``sparse_quality``).

Scale (``--scale N``): N synthetic images (random hashes, 16-px small copies, ORB descriptors; 10 % near copies)
through the whole cascade, timed per stage (every image is then an icon of a size drawn from ``ICON_SIDES``: the
worst case for the icon stage).

Grid (``--grid SAME:MARGIN ...``): how ``ICON_SAME`` and ``ICON_MARGIN`` were chosen, on the tuning sets only
(full and sparse F1 of Tango and GNOME, and their mean).

Edits (``--edits``): what the icon rules cost in copies: the share of brightened, saturated, JPEG,
JPEG-then-PNG and turned copies of the tuning sets' icons (of at most 48 px, and all) that the cascade does not
group with their original; and what they catch: the share of same-size look-alikes grouped, both as PNG and
with one saved as JPEG.

    python bench/bench_duplicates.py --data /tmp/dup_eval --scale 100000
    python bench/bench_duplicates.py --sets --grid 0.75:0.10 0.80:0.05 0.80:0.10 0.80:0.15 0.85:0.10
    python bench/bench_duplicates.py --sets --edits
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mmrag.catalog.features import ImageSignature  # noqa: E402
from mmrag.retrieval import dedup_candidates, dedup_groups  # noqa: E402
from mmrag.retrieval.dedup_groups import DupItem, group_duplicates  # noqa: E402
from mmrag.retrieval.dedup_verify import ICON_SAME, verify_pair  # noqa: E402

BASELINE_RADIUS = 10
ICON_SIDES = (16, 22, 24, 32, 48, 64, 128, 256)  # the scale part's icon sizes, one drawn at random per image
TUNING_SETS = ("icons", "icons-gnome")  # the icon numbers are chosen on these (``--grid``); the others are held out
SPARSE_DRAWS = 3  # the sparse reading of an icon set: each icon at 1-3 of its sizes, drawn at random 3 times


def load_items(root: Path, kind: str) -> tuple[list[DupItem], dict[str, dict[str, str]], list[float]]:
    from mmrag.ingest.hashes import compute_signature
    from mmrag.ingest.images import open_image, sha256_bytes

    labels = json.loads((root / "labels.json").read_text())
    items, seconds = [], []
    for name in sorted(f for f, label in labels.items() if label["set"] == kind):
        raw = (root / name).read_bytes()
        decoded = open_image(raw, name, 10**9, 256)
        start = time.perf_counter()
        signature = compute_signature(decoded.rgb)
        seconds.append(time.perf_counter() - start)
        items.append(DupItem(len(items), name, sha256_bytes(raw), signature, decoded.width, decoded.height,
                             len(raw), decoded.format))
    return items, labels, seconds


def baseline_groups(items: list[DupItem]) -> list[list[int]]:
    """pHash within BASELINE_RADIUS bits (plain hashes only), connected components."""
    import faiss

    hashes = np.stack([np.frombuffer(i.signature.phashes[:8], np.uint8) for i in items])
    index = faiss.IndexBinaryFlat(64)
    index.add(hashes)
    limits, _, labels = index.range_search(hashes, BASELINE_RADIUS + 1)
    parent = list(range(len(items)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for q in range(len(items)):
        for other in labels[limits[q]:limits[q + 1]]:
            parent[find(int(other))] = find(q)
    groups: dict[int, list[int]] = defaultdict(list)
    for n in range(len(items)):
        groups[find(n)].append(n)
    return [g for g in groups.values() if len(g) > 1]


def scores(groups: list[list[int]], items: list[DupItem], labels: dict[str, dict[str, str]], kind: str) -> dict:
    truth_of = [labels[i.path]["group"] for i in items]
    edit_of = [labels[i.path]["edit"] for i in items]
    predicted = {(a, b) for g in groups for a in g for b in g if a < b}
    truth = {(a, b) for a in range(len(items)) for b in range(a + 1, len(items)) if truth_of[a] == truth_of[b]}
    tp = len(predicted & truth)
    precision, recall = tp / max(1, len(predicted)), tp / max(1, len(truth))
    per_edit: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for a, b in truth:
        edit = _edit_of_pair(edit_of[a], edit_of[b], kind)
        if edit:
            per_edit[edit][0] += (a, b) in predicted
            per_edit[edit][1] += 1
    lookalike_images = {n for n, e in enumerate(edit_of) if e == "lookalike"}
    return {
        "precision": round(precision, 4), "recall": round(recall, 4),
        "f1": round(2 * precision * recall / max(1e-9, precision + recall), 4),
        "pairs_predicted": len(predicted), "pairs_true": len(truth),
        "lookalike_groups": sum(len({truth_of[n] for n in g}) > 1 for g in groups),
        "lookalike_images_grouped": sum(1 for g in groups for n in g if n in lookalike_images),
        "recall_per_edit": {e: round(found / total, 3) for e, (found, total) in sorted(per_edit.items())},
    }


def _edit_of_pair(a: str, b: str, kind: str) -> str | None:
    if kind.startswith("icons"):
        return min(a, b, key=lambda e: int(e.removesuffix("px")))
    if "original" in (a, b):
        return b if a == "original" else a
    return None


def quality(root: Path, kind: str) -> dict:
    items, labels, seconds = load_items(root, kind)
    start = time.perf_counter()
    ours = group_duplicates(items)
    elapsed = time.perf_counter() - start
    position = {item.id: n for n, item in enumerate(items)}
    result = {
        "images": len(items),
        "signature_ms_median": round(1000 * statistics.median(seconds), 1),
        "cascade_s": round(elapsed, 2),
        "cascade": scores([[position[i] for i in g.ids] for g in ours], items, labels, kind),
        "phash_baseline": scores(baseline_groups(items), items, labels, kind),
        "verification_ms": verification_cost(items),
        "labels_found": dict(sorted(_label_counts(ours).items())),
    }
    if kind.startswith("icons"):
        result["sparse"] = sparse_quality(items, labels, kind)
    return result


def sparse_quality(items: list[DupItem], labels: dict[str, dict[str, str]], kind: str) -> dict:
    """The cascade on icon sets where each icon keeps only 1-3 of its sizes (drawn at random, ``SPARSE_DRAWS``
    times): a library holding an icon's look-alike but not the icon's own other sizes, where a best match of
    another size is more often a look-alike. Means over the draws; look-alike groups per draw."""
    families: dict[str, list[DupItem]] = defaultdict(list)
    for item in items:
        families[labels[item.path]["group"]].append(item)
    runs = []
    for seed in range(SPARSE_DRAWS):
        rng = np.random.default_rng(seed)
        kept = [members[k] for _, members in sorted(families.items())
                for k in sorted(rng.choice(len(members), int(rng.integers(1, 4)), replace=False))]
        position = {item.id: n for n, item in enumerate(kept)}
        groups = [[position[i] for i in g.ids] for g in group_duplicates(kept)]
        runs.append(scores(groups, kept, labels, kind))
    return {**{key: round(statistics.mean(r[key] for r in runs), 4) for key in ("precision", "recall", "f1")},
            "lookalike_groups": [r["lookalike_groups"] for r in runs]}


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


def _label_counts(groups: list) -> dict[str, int]:  # type: ignore[type-arg]
    counts: dict[str, int] = defaultdict(int)
    for group in groups:
        for pair in group.pairs:
            counts[pair.label] += 1
    return counts


def verification_cost(items: list[DupItem], limit: int = 300) -> dict[str, float]:
    """Median milliseconds of verify_pair over up to ``limit`` candidate pairs of each kind: with a symmetry
    (hash / tiny-image candidates: aligned check, geometry when it fails) and without (geometry only)."""
    pairs = dedup_groups.candidate_pairs(items, list(range(len(items))), None)
    times: dict[str, list[float]] = defaultdict(list)
    for (i, j), symmetry in pairs.items():
        kind = "aligned first" if symmetry is not None else "geometry only"
        if len(times[kind]) >= limit:
            continue
        start = time.perf_counter()
        verify_pair(items[i].signature, items[j].signature, symmetry)
        times[kind].append(time.perf_counter() - start)
    return {k: round(1000 * statistics.median(v), 2) for k, v in times.items() if v}


def synthetic(n: int, seed: int = 0) -> list[DupItem]:
    rng = np.random.default_rng(seed)
    base = max(1, int(n * 0.9))
    phashes = rng.integers(0, 256, (base, 8, 8), dtype=np.uint8)
    smalls = rng.integers(0, 256, (base, 16, 16, 3), dtype=np.uint8)
    descriptors = rng.integers(0, 256, (base, 48, 32), dtype=np.uint8)
    keypoints = rng.uniform(0, 384, (base, 48, 2)).astype(np.float32)
    items = []
    for k in range(n):
        src = k if k < base else int(rng.integers(0, base))
        hashes = phashes[src].copy()
        small = smalls[src]
        if k >= base:  # a near copy: a few hash bits and pixels differ
            hashes[0, rng.integers(0, 8, 3)] ^= np.uint8(1 << int(rng.integers(0, 8)))
            small = np.clip(small.astype(int) + rng.integers(-3, 4, small.shape), 0, 255).astype(np.uint8)
        signature = ImageSignature(f"px{k}", hashes.tobytes(), small, np.zeros(6, np.float32), (384, 384),
                                   keypoints[src], descriptors[src])
        items.append(DupItem(k, f"/synthetic/{k}.jpg", f"sha{k}", signature, 1000, 800, 200_000, "JPEG"))
    return items


def scale(n: int) -> dict:
    """Each stage of the cascade over ``n`` synthetic images, timed (wall and this process's CPU seconds: the
    machine is shared, so the CPU time is what the stage costs) and printed as it ends."""
    items = synthetic(n)
    result: dict = {"images": n}
    clock = {"wall": 0.0, "cpu": 0.0}

    def start() -> None:
        clock.update(wall=time.perf_counter(), cpu=time.process_time())

    def stage(name: str, **counts: int) -> None:
        result[f"{name}_s"] = round(time.perf_counter() - clock["wall"], 2)
        result[f"{name}_cpu_s"] = round(time.process_time() - clock["cpu"], 2)
        result.update(counts)
        print(json.dumps({name: result[f"{name}_s"], "cpu": result[f"{name}_cpu_s"], **counts}), file=sys.stderr,
              flush=True)

    start()
    phashes = np.stack([np.frombuffer(i.signature.phashes, np.uint8).reshape(8, 8) for i in items])
    hashed = dedup_candidates.hash_candidates(phashes)
    stage("hash_candidates", hash_pairs=len(hashed))
    start()
    tiny = dedup_candidates.vector_candidates(dedup_candidates.tiny_vectors([i.signature.small for i in items]),
                                              dedup_candidates.TINY_NEIGHBOURS, dedup_candidates.MIN_TINY_COSINE)
    stage("tiny_candidates", tiny_pairs=len(tiny))
    start()
    from mmrag.retrieval.dedup_icon_pairs import icon_candidates  # (the module a quality run's --before lacks)

    sides = np.random.default_rng(1).choice(ICON_SIDES, n)
    icons = icon_candidates([i.signature.small for i in items], [(int(s), int(s)) for s in sides], ICON_SAME)
    stage("icon_candidates", icon_pairs=len(icons))
    start()
    features = dedup_candidates.feature_candidates([i.signature.descriptors for i in items])
    stage("feature_candidates", feature_pairs=len(features))
    pairs: dict[tuple[int, int], int | None] = {(min(i, j), max(i, j)): s for (i, j), (s, _) in hashed.items()}
    for pair in tiny | features | set(icons):
        pairs.setdefault(pair, None if pair in features else 0)
    start()
    verified = [pair for pair, symmetry in pairs.items()
                if verify_pair(items[pair[0]].signature, items[pair[1]].signature, symmetry,
                                   icons.get(pair)) is not None]
    stage("verification", candidate_pairs=len(pairs), verified_pairs=len(verified))
    for kind in ("", "_cpu"):
        result[f"total{kind}_s"] = round(sum(v for k, v in result.items() if k.endswith(f"{kind}_s")
                                             and k.count("_cpu") == bool(kind) and not k.startswith("total")), 2)
    return result


def grid(root: Path, cells: list[str]) -> list[dict]:
    """The choice of ``ICON_SAME`` and ``ICON_MARGIN`` on the tuning sets: for each "same:margin" cell, F1 of the
    full and the sparse reading of Tango and GNOME, and their mean (the criterion the numbers were chosen by).
    The module constants are set for the run (dedup_groups holds its own name for ICON_SAME)."""
    from mmrag.retrieval import dedup_icon_pairs, dedup_verify

    sets = {kind: load_items(root, kind)[:2] for kind in TUNING_SETS}
    rows = []
    for cell in cells:
        same, margin = (float(x) for x in cell.split(":"))
        dedup_verify.ICON_SAME = dedup_groups.ICON_SAME = same  # type: ignore[misc]
        dedup_icon_pairs.ICON_MARGIN = margin  # type: ignore[misc]
        row: dict = {"icon_same": same, "icon_margin": margin}
        for kind, (items, labels) in sets.items():
            position = {item.id: n for n, item in enumerate(items)}
            full = scores([[position[i] for i in g.ids] for g in group_duplicates(items)], items, labels, kind)
            row[kind] = {"full_f1": full["f1"], "sparse_f1": sparse_quality(items, labels, kind)["f1"]}
        row["mean_f1"] = round(statistics.mean(v for k in TUNING_SETS for v in row[k].values()), 4)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path("/tmp/dup_eval"))
    parser.add_argument("--sets", nargs="*", default=["photos", "icons", "icons-gnome", "icons-oxygen", "icons-mate"],
                        help="icons (Tango) and icons-gnome: the sets the icon parameters were chosen on; "
                             "icons-oxygen and icons-mate: held out")
    parser.add_argument("--scale", type=int, default=0, help="synthetic images for the timing part (0: skip)")
    parser.add_argument("--grid", nargs="*", default=[], metavar="SAME:MARGIN",
                        help="ICON_SAME:ICON_MARGIN cells to score on the tuning sets (e.g. 0.80:0.10)")
    parser.add_argument("--edits", action="store_true",
                        help="tuning sets: edited icon copies not grouped, look-alikes (one as JPEG) grouped")
    args = parser.parse_args()
    report: dict = {}
    if args.sets:
        if not (args.data / "labels.json").exists():
            from dup_eval.build_set import main as build  # type: ignore[import-not-found]

            build(args.data)
        for kind in args.sets:
            report[kind] = quality(args.data, kind)
            print(json.dumps({kind: report[kind]}, indent=1), flush=True)
    if args.grid:
        report["grid"] = grid(args.data, args.grid)
    if args.edits:
        for kind in TUNING_SETS:
            for side, missed in icon_edit_misses(args.data, kind, (48, 256)).items():
                report[f"{kind} edits missed, icons of at most {side} px"] = missed
                print(json.dumps({f"{kind} edits missed, icons of at most {side} px": missed}), flush=True)
            report[f"{kind} look-alikes grouped"] = jpeg_lookalikes(args.data, kind)
            print(json.dumps({f"{kind} look-alikes grouped": report[f"{kind} look-alikes grouped"]}), flush=True)
    if args.scale:
        report["scale"] = scale(args.scale)
        print(json.dumps({"scale": report["scale"]}, indent=1), flush=True)


if __name__ == "__main__":
    main()
