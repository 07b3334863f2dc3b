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

Unmargined (``--unmargined``): how ``SAME_DRAWING_SHARE_UNMARGINED`` was chosen (the differing share of small PNG
copies without a clean margin, on the tuning sets; shown for all four icon sets with their same-size look-alikes),
and the share of same-size look-alikes grouped on every icon set, the held-out ones included.

    python bench/bench_duplicates.py --data /tmp/dup_eval --scale 100000
    python bench/bench_duplicates.py --sets --grid 0.75:0.10 0.80:0.05 0.80:0.10 0.80:0.15 0.85:0.10
    python bench/bench_duplicates.py --sets --edits
    python bench/bench_duplicates.py --sets --unmargined
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from dup_eval.icon_edits import icon_edit_misses, jpeg_lookalikes, unmargined_shares  # noqa: E402
from dup_eval.scale import scale  # noqa: E402
from dup_eval.scoring import ICON_SETS, TUNING_SETS, load_items, quality, scores, sparse_quality  # noqa: E402

from mmrag.retrieval import dedup_groups  # noqa: E402
from mmrag.retrieval.dedup_groups import group_duplicates  # noqa: E402


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
    parser.add_argument("--sets", nargs="*", default=["photos", *ICON_SETS],
                        help="icons (Tango) and icons-gnome: the sets the icon parameters were chosen on; "
                             "icons-oxygen and icons-mate: held out")
    parser.add_argument("--scale", type=int, default=0, help="synthetic images for the timing part (0: skip)")
    parser.add_argument("--grid", nargs="*", default=[], metavar="SAME:MARGIN",
                        help="ICON_SAME:ICON_MARGIN cells to score on the tuning sets (e.g. 0.80:0.10)")
    parser.add_argument("--edits", action="store_true",
                        help="tuning sets: edited icon copies not grouped, look-alikes (one as JPEG) grouped")
    parser.add_argument("--unmargined", action="store_true",
                        help="icon sets: differing share of small PNG copies and look-alikes without a clean margin")
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
    if args.unmargined:
        for kind in ICON_SETS:
            report[f"{kind} unmargined"] = {**unmargined_shares(args.data, kind),
                                             "look-alikes grouped": jpeg_lookalikes(args.data, kind)}
            print(json.dumps({f"{kind} unmargined": report[f"{kind} unmargined"]}), flush=True)
    if args.scale:
        report["scale"] = scale(args.scale)
        print(json.dumps({"scale": report["scale"]}, indent=1), flush=True)


if __name__ == "__main__":
    main()
