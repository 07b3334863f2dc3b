"""Cold start: wall time of ``mmrag --help`` and of ``mmrag search "..." --json`` in a fresh process.

The library is built once (``--build``) with N synthetic clustered 512-d vectors written straight into the
catalog the way bench_search.py does it, indexed by ``Library.rebuild`` (the auto spec), and configured with
the ViT-B-32 architecture whose random weights are saved to a file (timing equals trained weights).

    python bench/bench_cold_start.py --build --n 1000000 --library /work/bench-data/lib1m
    python bench/bench_cold_start.py --library /work/bench-data/lib1m --runs 5
    python bench/bench_cold_start.py --library /work/bench-data/lib1m --runs 5 \
        --before /tmp/before:/work/bench-data/lib1m-before     # an older checkout at /tmp/before/mmrag
    python bench/bench_cold_start.py --library LIB --runs 5 --before TREE:LIB-COPY --phases   # + CPU per phase

The first search of a library exports the text tower to ONNX once (reported as ``first_search_s``); the
median of ``--runs`` searches after it is the cold start a user sees. ``--text-runtime torch`` runs the same
with the torch text tower, side by side. Each run also reports the user+system CPU seconds of the child
(less sensitive than wall time to other processes on a shared machine).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODEL = "ViT-B-32"
WEIGHTS = Path("/work/bench-data/vit-b-32-random.safetensors")


def save_random_weights(path: Path) -> None:
    """ViT-B-32 with seeded random weights, saved as safetensors (what ``--clip-pretrained FILE`` loads)."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = open_clip.create_model(MODEL, pretrained=None)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))


def build(library: Path, n: int, weights: Path) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    import bench_search

    if not weights.exists():
        save_random_weights(weights)
    bench_search.MODEL, bench_search.PRETRAINED = MODEL, str(weights)  # the library records this model
    t0 = time.perf_counter()
    bench_search.build_library(library, bench_search.clustered(n, 512))
    print(f"built {n:,} in {time.perf_counter() - t0:.0f} s at {library}", file=sys.stderr)


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall s, child CPU s, stdout) of one command in a new process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def summary(samples: list[tuple[float, float, str]]) -> dict[str, float]:
    return {"median_s": round(statistics.median(s[0] for s in samples), 3),
            "min_s": round(min(s[0] for s in samples), 3),
            "cpu_median_s": round(statistics.median(s[1] for s in samples), 3)}


def measure(library: Path, runs: int, runtime: str) -> dict[str, object]:
    mmrag = str(Path(sys.executable).with_name("mmrag"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MMRAG_TEXT_RUNTIME": runtime}
    first = timed([mmrag, "search", "a red bicycle", "--library", str(library), "--json"], env)
    searches = [timed([mmrag, "search", f"a photo of a dog number {i}", "--library", str(library), "--json"], env)
                for i in range(runs)]
    hits = json.loads(searches[-1][2])
    return {"runtime": runtime, "first_search_s": round(first[0], 2), "search": summary(searches),
            "hits": len(hits)}


def side_by_side(library: Path, before_tree: Path, before_library: Path, runs: int) -> dict[str, object]:
    """The same cold search and ``--help`` in this tree and in an older one (``before_tree/mmrag`` put first on
    PYTHONPATH; its own library copy, since the two trees write different text-tower exports), alternated run by
    run so both see the same machine load."""
    mmrag = str(Path(sys.executable).with_name("mmrag"))
    now = {**os.environ, "HF_HUB_OFFLINE": "1"}
    old = {**now, "PYTHONPATH": str(before_tree)}
    samples: dict[str, list[tuple[float, float, str]]] = {k: [] for k in ("search", "search_before", "help",
                                                                         "help_before")}
    for lib, env in ((before_library, old), (library, now)):  # untimed: file cache, index stamp of a copied library
        timed([mmrag, "search", "warm up", "--library", str(lib), "--json"], env)
    for i in range(runs):
        query = f"a photo of a dog number {i}"
        for name, lib, env in (("search_before", before_library, old), ("search", library, now)):
            samples[name].append(timed([mmrag, "search", query, "--library", str(lib), "--json"], env))
        samples["help_before"].append(timed([mmrag, "--help"], old))
        samples["help"].append(timed([mmrag, "--help"], now))
    out: dict[str, object] = {name: summary(values) for name, values in samples.items()}
    out["same_hits"] = [json.loads(a[2]) == json.loads(b[2]) for a, b in zip(samples["search"],
                                                                             samples["search_before"], strict=True)]
    return out


def phases_side_by_side(library: Path, before_tree: Path, before_library: Path, runs: int) -> dict[str, object]:
    """CPU seconds of each phase of a cold search (bench_cold_phases.py, one fresh process per run), the two trees
    alternated run by run; medians per phase."""
    script = str(Path(__file__).with_name("bench_cold_phases.py"))
    now = {**os.environ, "HF_HUB_OFFLINE": "1"}
    trees = {"before": (before_library, {**now, "PYTHONPATH": str(before_tree)}), "after": (library, now)}
    found: dict[str, list[dict[str, dict[str, float]]]] = {name: [] for name in trees}
    for _ in range(runs):
        for name, (lib, env) in trees.items():
            done = subprocess.run([sys.executable, script, str(lib)], env=env, capture_output=True, text=True,
                                  check=True)
            found[name].append(json.loads(done.stdout))
    table: dict[str, object] = {}
    for phase in found["after"][0]:
        cpu = {name: statistics.median(run[phase]["cpu_s"] for run in found[name]) for name in trees}
        table[phase] = {"before_cpu_s": round(cpu["before"], 3), "after_cpu_s": round(cpu["after"], 3)}
    table["total"] = {f"{name}_cpu_s": round(sum(statistics.median(run[p]["cpu_s"] for run in found[name])
                                                 for p in found[name][0]), 3) for name in trees}
    return table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--library", type=Path, default=Path("/work/bench-data/lib1m"))
    ap.add_argument("--build", action="store_true", help="build the library first")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--weights", type=Path, default=WEIGHTS)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--runtimes", default="onnx", help="comma list of text runtimes: onnx,torch")
    ap.add_argument("--before", metavar="TREE:LIBRARY", help="also time an older checkout (TREE/mmrag) on its own "
                                                            "copy of the library, run by run in turn")
    ap.add_argument("--phases", action="store_true", help="with --before: also the CPU of each phase of a cold "
                                                         "search in both trees (bench_cold_phases.py)")
    args = ap.parse_args(argv)
    if args.build:
        build(args.library, args.n, args.weights)
    if args.before:
        tree, library = args.before.split(":", 1)
        result = {**side_by_side(args.library, Path(tree), Path(library), args.runs),
                  "load_avg_1m": round(os.getloadavg()[0], 2)}
        if args.phases:
            result["phases"] = phases_side_by_side(args.library, Path(tree), Path(library), args.runs)
            result["load_avg_1m_after_phases"] = round(os.getloadavg()[0], 2)
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    mmrag = str(Path(sys.executable).with_name("mmrag"))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result: dict[str, object] = {"help": summary([timed([mmrag, "--help"], env) for _ in range(max(5, args.runs))])}
    result["searches"] = [measure(args.library, args.runs, r) for r in args.runtimes.split(",") if r]
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
