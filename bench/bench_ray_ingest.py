"""Ray ingest throughput against a local ingest of the same photos, side by side in one run.

Three ingests of the same folder into fresh libraries: local (thread-pool decode, in-process model), then
``mmrag ingest --engine ray`` on a real Ray cluster of 1 and of 2 nodes (``ray start``, one CPU each, in a
loopback-only network namespace: tests/ray_cluster.py). Each is a new ``mmrag`` process, so every figure
includes the model load; the Ray figures also include joining the cluster and starting the actor pool.
Overhead per image = (Ray seconds - local seconds) / images. On one machine the two nodes share its cores, so
this measures Ray's overhead, not a speed-up; the speed-up needs nodes with their own CPUs or GPUs.

    python bench/bench_ray_ingest.py --n 500 --model ViT-B-32 --repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

from bench_ingest import make_photos  # noqa: E402
from ray_cluster import RayCluster  # noqa: E402


def ingest_seconds(photos: Path, library: Path, model: str, cluster: RayCluster | None) -> float:
    argv = [sys.executable, "-m", "mmrag", "ingest", str(photos), "--library", str(library), "--json"]
    if cluster is not None:
        argv = cluster.command([*argv, "--engine", "ray", "--ray-address", cluster.address])
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MMRAG_CLIP_MODEL": model, "MMRAG_CLIP_PRETRAINED": "none",
           "MMRAG_DEVICE": "cpu"}
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"ingest failed: {done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    assert report["added"] == len(list(photos.iterdir())), report
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--model", default="ViT-B-32")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        photos = work / "photos"
        make_photos(photos, args.n)
        runs: dict[str, list[float]] = {"local": [], "ray_1_node": [], "ray_2_nodes": []}
        cluster = RayCluster(work / "ray").start(workers=0)
        try:
            for repeat in range(args.repeats):
                runs["local"].append(ingest_seconds(photos, work / f"local{repeat}", args.model, None))
                if cluster.nodes == 2:  # back to one node: restart the cluster head-only
                    cluster.stop()
                    cluster = RayCluster(work / f"ray{repeat}").start(workers=0)
                runs["ray_1_node"].append(ingest_seconds(photos, work / f"ray1_{repeat}", args.model, cluster))
                cluster.add_worker()
                runs["ray_2_nodes"].append(ingest_seconds(photos, work / f"ray2_{repeat}", args.model, cluster))
        finally:
            cluster.stop()
    best = {name: min(seconds) for name, seconds in runs.items()}
    out = {"images": args.n, "model": args.model, "repeats": args.repeats, "cpus": os.cpu_count(),
           **{f"{name}_img_per_s": round(args.n / s, 2) for name, s in best.items()},
           **{f"{name}_vs_local": round(best["local"] / s, 3) for name, s in best.items() if name != "local"},
           **{f"{name}_overhead_ms_per_image": round(1000 * (s - best["local"]) / args.n, 1)
              for name, s in best.items() if name != "local"}}
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
