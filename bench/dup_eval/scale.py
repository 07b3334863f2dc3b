"""The duplicate cascade over N synthetic images (random hashes, 16-px small copies, ORB descriptors; 10 % near
copies), timed per stage."""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from mmrag.catalog.features import ImageSignature
from mmrag.retrieval import dedup_candidates
from mmrag.retrieval.dedup_groups import DupItem
from mmrag.retrieval.dedup_verify import ICON_SAME, verify_pair

ICON_SIDES = (16, 22, 24, 32, 48, 64, 128, 256)  # the icon sizes, one drawn at random per image


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
