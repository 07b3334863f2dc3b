"""`mmrag --help` in a fresh process: wall and CPU seconds, median of N, this tree against an older checkout.

Each run is a new ``python -c "from mmrag.cli import app; app()"`` process (what the ``mmrag`` script does),
timed from outside; the two trees alternate run by run so both see the same load. ``--before TREE`` puts
``TREE`` first on PYTHONPATH, where ``TREE/mmrag`` is the older checkout (``git worktree add /tmp/x/mmrag REV``
or a symlink to one). ``--phases`` adds where the CPU goes in this tree: Python itself, typer, the CLI's own
modules, typer building the command tree, and writing the help.

    python bench/bench_help.py --runs 5 --before /tmp/before
    python bench/bench_help.py --runs 5 --phases
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

HELP = "import sys; sys.argv = ['mmrag', *sys.argv[1:]]; from mmrag.cli import app; app()"
PHASES = """
import io, json, sys, time
from contextlib import redirect_stdout
marks = {}
last = time.process_time()
def mark(label):
    global last
    now = time.process_time(); marks[label] = round(now - last, 4); last = now
import typer; mark("import typer")
import mmrag.cli; mark("import mmrag.cli (the rest)")
from typer.main import get_command
command = get_command(mmrag.cli.app); mark("typer builds the command tree")
with redirect_stdout(io.StringIO()):
    try:
        command.main(["--help"], prog_name="mmrag")
    except SystemExit:
        pass
mark("write the help")
marks["rich imported"] = "rich" in sys.modules
print(json.dumps(marks))
"""


def timed(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall s, CPU s) of ``mmrag ARGS`` in a new process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", HELP, *args], env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def summary(samples: list[tuple[float, float]]) -> dict[str, float]:
    return {"wall_median_s": round(statistics.median(s[0] for s in samples), 3),
            "cpu_median_s": round(statistics.median(s[1] for s in samples), 3),
            "wall_min_s": round(min(s[0] for s in samples), 3)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--before", metavar="TREE", help="an older checkout at TREE/mmrag, alternated run by run")
    ap.add_argument("--args", default="--help", help="the mmrag arguments to time (default --help)")
    ap.add_argument("--phases", action="store_true", help="also the CPU of each phase (median of the runs)")
    args = ap.parse_args(argv)
    now = {**os.environ, "HF_HUB_OFFLINE": "1"}
    trees = {"after": now} | ({"before": {**now, "PYTHONPATH": args.before}} if args.before else {})
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    timed(args.args.split(), now)  # warm the file cache and the .pyc files once per tree
    if args.before:
        timed(args.args.split(), trees["before"])
    for _ in range(args.runs):
        for name, env in reversed(trees.items()):  # before first, then after, run by run
            samples[name].append(timed(args.args.split(), env))
    result: dict[str, object] = {f"mmrag {args.args}": {name: summary(s) for name, s in samples.items()}}
    if args.before:
        after, before = (statistics.median(s[1] for s in samples[k]) for k in ("after", "before"))
        result["cpu_after_over_before"] = round(after / before, 3)
    if args.phases:
        runs = [json.loads(subprocess.run([sys.executable, "-c", PHASES], env=now, check=True, capture_output=True,
                                          text=True).stdout) for _ in range(args.runs)]
        result["phases_cpu_s"] = {key: (statistics.median(r[key] for r in runs) if key != "rich imported"
                                        else runs[0][key]) for key in runs[0]}
    result["load_avg_1m"] = round(os.getloadavg()[0], 2)
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
