"""Fault-injection trials: ingest in a child process, stop it at a random point, check, resume, repeat.

A trial starts an ingest child with randomly drawn settings (commit size, index save interval, decode
threads, batch size), then stops it with a signal either after a random number of committed batches (the
catalog's vectors generation; plus a random delay, so the stop lands anywhere inside the next batch) or
after a random delay (which also lands in start-up, scanning, index saves and the final save). After every
stop the crash invariants are checked; between trials the folder is changed (files deleted, rewritten,
added). A last run completes the ingest and the full invariants are checked against the manifest.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rel_checks import all_violations, count_assets, crash_violations, generation, index_file_state
from rel_child import context, read_result, run_ingest
from rel_corpus import Manifest, mutate

POLL_S = 0.01


@dataclass
class TrialPlan:
    trials: int = 20
    seed: int = 0
    signal: int = signal.SIGKILL
    mutate_every: int = 4  # change the folder after every n-th trial (0: never)
    changes: int = 5  # files deleted, rewritten and added at each change
    child_timeout_s: float = 300.0


@dataclass
class TrialRun:
    """What happened, for assertions and for docs/reliability.md."""

    trials: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    final: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def stopped(self) -> int:
        return sum(1 for t in self.trials if t["ended"] == "stopped")

    def _stops(self, how: str) -> int:
        return sum(1 for t in self.trials if t["how"] == how and t["ended"] == "stopped")

    def summary(self) -> dict[str, Any]:
        return {"trials": len(self.trials), "stopped_mid_run": self.stopped,
                "finished_before_stop": sum(1 for t in self.trials if t["ended"] == "finished"),
                "stopped_after_commits": self._stops("commits"), "stopped_after_delay": self._stops("delay"),
                "stopped_before_first_commit": sum(1 for t in self.trials if t["ended"] == "stopped"
                                                   and t["commits"] == 0),
                "stale_index_sidecars": sum(1 for t in self.trials if t["index_file"] == "stale-sidecar"),
                "violations": len(self.violations), "seconds": round(self.seconds, 1), **self.final}


def child_env(rng: np.random.Generator) -> dict[str, str]:
    """Settings drawn per trial, so stops land in differently shaped runs."""
    return {
        "MMRAG_INGEST__COMMIT_EVERY": str(rng.choice([8, 32, 64])),
        "MMRAG_INGEST__SAVE_INDEX_EVERY_S": str(rng.choice([0.0, 0.3, 60.0])),
        "MMRAG_WORKERS": str(rng.choice([0, 2])),
        "MMRAG_BATCH_SIZE": str(rng.choice([8, 32])),
    }


def run_trials(library: Path, manifest: Manifest, workdir: Path, plan: TrialPlan) -> TrialRun:
    """Stop ingest children until ``plan.trials`` of them were stopped mid-run (at most 3x as many tries)."""
    rng = np.random.default_rng(plan.seed)
    ctx = context()
    run = TrialRun()
    started = time.perf_counter()
    estimate = 5.0  # seconds a whole child run takes; refined as runs finish
    number = 0
    while run.stopped < plan.trials and number < 3 * plan.trials:
        trial = _one_trial(ctx, library, manifest, workdir, rng, plan, number, estimate)
        if trial["ended"] == "finished":
            estimate = max(1.0, trial["seconds"])
        run.trials.append(trial)
        run.violations += [f"trial {number} ({trial['how']}): {v}" for v in trial["violations"]]
        if trial["ended"] == "finished":  # nothing left to do: give the next child work to be stopped in
            mutate(manifest, rng, 10 * plan.changes)
        elif plan.mutate_every and number % plan.mutate_every == plan.mutate_every - 1:
            mutate(manifest, rng, plan.changes)
        number += 1
    run.final = finish(ctx, library, manifest, workdir, plan)
    run.violations += [f"final run: {v}" for v in run.final.pop("violations")]
    run.seconds = time.perf_counter() - started
    return run


def _one_trial(ctx: Any, library: Path, manifest: Manifest, workdir: Path, rng: np.random.Generator,
               plan: TrialPlan, number: int, estimate: float) -> dict[str, Any]:
    before, gen_before = count_assets(library), generation(library)
    env = child_env(rng)
    how = "commits" if rng.random() < 0.6 else "delay"
    target = gen_before + int(rng.integers(1, 7)) if how == "commits" else None
    delay = float(rng.uniform(0.0, estimate)) if how == "delay" else float(rng.uniform(0.0, 0.3))
    proc, log, result = _start(ctx, library, manifest, workdir, f"trial{number:03d}", env)
    t0 = time.perf_counter()
    ended = _stop_at(proc, library, target, delay, plan)
    trial = {"number": number, "how": how, "target": target, "delay": round(delay, 3), "env": env,
             "assets_before": before, "ended": ended, "seconds": round(time.perf_counter() - t0, 3),
             "exitcode": proc.exitcode, "assets_after": count_assets(library),
             "commits": generation(library) - gen_before, "index_file": index_file_state(library)}
    trial["violations"] = _exit_violations(proc.exitcode, ended, plan, log) + crash_violations(library)
    if ended == "finished" and read_result(result) is None:
        trial["violations"].append(f"finished without a result; log: {_tail(log)}")
    return trial


def _start(ctx: Any, library: Path, manifest: Manifest, workdir: Path, tag: str,
           env: dict[str, str]) -> tuple[Any, Path, Path]:
    log, result = workdir / f"{tag}.log", workdir / f"{tag}.json"
    proc = ctx.Process(target=run_ingest, name=tag,
                       args=(str(library), [manifest.root.as_posix()], env, str(log), str(result)))
    proc.start()
    return proc, log, result


def _stop_at(proc: Any, library: Path, target: int | None, delay: float, plan: TrialPlan) -> str:
    """Wait for the stop point (row count, then ``delay``), signal the child, wait for it to end."""
    deadline = time.perf_counter() + plan.child_timeout_s
    while target is not None and proc.is_alive() and generation(library) < target:
        if time.perf_counter() > deadline:
            break
        time.sleep(POLL_S)
    proc.join(delay)
    if not proc.is_alive():
        return "finished" if proc.exitcode == 0 else "failed"
    os.kill(proc.pid, plan.signal)
    proc.join(plan.child_timeout_s)
    if proc.is_alive():  # an interrupted child must stop on its own; make sure it goes
        proc.kill()
        proc.join()
        return "hung"
    return "stopped" if proc.exitcode != 0 else "finished"


def _exit_violations(exitcode: int | None, ended: str, plan: TrialPlan, log: Path) -> list[str]:
    if ended == "hung":
        return [f"child did not stop within {plan.child_timeout_s}s of signal {plan.signal}; log: {_tail(log)}"]
    if ended == "failed":
        return [f"child failed on its own (exit code {exitcode}); log: {_tail(log)}"]
    if ended == "stopped" and plan.signal == signal.SIGINT and exitcode not in (1, -signal.SIGINT):
        return [f"interrupted child ended with exit code {exitcode}; log: {_tail(log)}"]
    if ended == "stopped" and plan.signal == signal.SIGINT and "KeyboardInterrupt" not in _tail(log, 4000):
        return [f"interrupted child did not end by KeyboardInterrupt; log: {_tail(log)}"]
    return []


def finish(ctx: Any, library: Path, manifest: Manifest, workdir: Path, plan: TrialPlan,
           env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run the ingest to completion and check every invariant against the manifest."""
    proc, log, result = _start(ctx, library, manifest, workdir, "final", env or {})
    proc.join(plan.child_timeout_s)
    if proc.is_alive():
        proc.kill()
        proc.join()
    data = read_result(result)
    if proc.exitcode != 0 or data is None:
        return {"violations": [f"resume run failed (exit code {proc.exitcode}); log: {_tail(log)}"]}
    report = data["report"]
    return {"files": manifest.files, "readable": len(manifest.good), "broken": len(manifest.broken),
            "resume_added": report["added"], "resume_updated": report["updated"],
            "resume_removed": report["removed"], "peak_rss_mb": round(data["peak_rss_mb"]),
            "violations": all_violations(library, manifest)}


def _tail(log: Path, size: int = 1500) -> str:
    try:
        data = Path(log).read_bytes()
    except OSError:
        return "(no log)"
    return data[-size:].decode("utf-8", "replace")
