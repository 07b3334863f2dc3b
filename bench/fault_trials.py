"""Fault-injection trials at a larger scale than CI, for the numbers in docs/reliability.md.

Runs the same machinery as tests/reliability (real child processes, real SIGKILL/SIGINT, a real tmpfs, real
SQLite and FAISS files) with more files and more trials, and prints one JSON summary per stage plus a
Markdown table. Nothing is mocked; the tiny CLIP model keeps it CPU-only.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/fault_trials.py --files 10000 --kills 100 --interrupts 30
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))

from rel_checks import all_violations  # noqa: E402
from rel_child import context  # noqa: E402
from rel_corpus import make_corpus  # noqa: E402
from rel_disk import Tmpfs, fill_cycles  # noqa: E402
from rel_reader import readers_during_ingest, summary  # noqa: E402
from rel_trials import TrialPlan, finish, run_trials  # noqa: E402

DISK_SIZES = ("1m", "2m", "3m", "4m", "6m", "8m", "12m", "16m", "24m", "32m", "64m", "256m")


def stage_trials(workdir: Path, files: int, trials: int, sig: int, seed: int) -> dict[str, Any]:
    manifest = make_corpus(workdir / "photos", files, seed=seed)
    run = run_trials(workdir / "library", manifest, workdir, TrialPlan(trials=trials, seed=seed, signal=sig))
    return {**run.summary(), "violation_list": run.violations[:20]}


def stage_disk_full(workdir: Path, files: int, seed: int) -> dict[str, Any]:
    disk = Tmpfs(workdir / "tmpfs")
    try:
        library = disk.mount(DISK_SIZES[0]) / "library"
    except PermissionError as exc:
        return {"skipped": str(exc)}
    try:
        ctx, manifest = context(), make_corpus(workdir / "photos", files, seed=seed)
        outcome = fill_cycles(ctx, library, manifest, workdir, disk, DISK_SIZES)
        final = finish(ctx, library, manifest, workdir, TrialPlan())
        violations = outcome["violations"] + final.pop("violations") + all_violations(library, manifest)
        return {"files": files, "disk_full_failures": len(outcome["disk_full_failures"]),
                "by_error": {r: outcome["disk_full_failures"].count(r) for r in set(outcome["disk_full_failures"])},
                "fit_at": outcome["fit_at"], "violations": len(violations), "violation_list": violations[:20]}
    finally:
        disk.unmount()


def stage_readers(workdir: Path, files: int, readers: int, seed: int) -> dict[str, Any]:
    run = readers_during_ingest(workdir, files=files, added=files * 3 // 2, readers=readers, seed=seed)
    violations = all_violations(run["library"], run["manifest"]) if run["writer_exitcode"] == 0 else ["writer"]
    return {**summary(run), "writer_exitcode": run["writer_exitcode"], "violations": len(violations),
            "failure_examples": [e[-300:] for r in run["results"] if r for e in r["errors"][:1]][:3]}


def markdown(results: dict[str, dict[str, Any]]) -> str:
    kill, interrupt = results.get("sigkill", {}), results.get("sigint", {})
    disk, readers = results.get("disk_full", {}), results.get("readers", {})
    rows = [
        ("SIGKILL at random points", f"{kill.get('stopped_mid_run')} kills over {kill.get('files')} files",
         kill.get("violations"), f"{kill.get('stale_index_sidecars')} stale index sidecars, all repaired"),
        ("SIGINT (KeyboardInterrupt) at random points", f"{interrupt.get('stopped_mid_run')} interrupts over "
         f"{interrupt.get('files')} files", interrupt.get("violations"), ""),
        ("disk full (tmpfs grown between runs)", f"{disk.get('disk_full_failures')} full-disk stops over "
         f"{disk.get('files')} files", disk.get("violations"), json.dumps(disk.get("by_error"))),
        ("readers during an ingest", f"{readers.get('readers')} readers, {readers.get('searches')} searches",
         readers.get("wrong_hits"), f"{readers.get('reader_failures')} reader failures (stale sidecar race)"),
    ]
    lines = ["| fault | scale | items lost / wrong | notes |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--interrupts", type=int, default=30)
    parser.add_argument("--readers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stages", default="sigkill,sigint,disk_full,readers")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="mmrag-fault-trials-") as tmp:
        for stage in args.stages.split(","):
            workdir = Path(tmp) / stage
            workdir.mkdir()
            started = time.perf_counter()
            results[stage] = run_stage(stage, workdir, args)
            results[stage]["stage_seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps({stage: results[stage]}), flush=True)
    print(markdown(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if any(r.get("violations") for r in results.values()):
        sys.exit(1)


def run_stage(stage: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    if stage == "sigkill":
        return stage_trials(workdir, args.files, args.kills, signal.SIGKILL, args.seed)
    if stage == "sigint":
        return stage_trials(workdir, max(500, args.files // 4), args.interrupts, signal.SIGINT, args.seed + 1)
    if stage == "disk_full":
        return stage_disk_full(workdir, max(500, args.files // 10), args.seed + 2)
    if stage == "readers":
        return stage_readers(workdir, max(400, args.files // 10), args.readers, args.seed + 3)
    raise SystemExit(f"unknown stage {stage!r}; stages: sigkill, sigint, disk_full, readers")


if __name__ == "__main__":
    main()
