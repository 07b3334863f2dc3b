"""A full disk for real: a size-limited tmpfs (root only), grown between ingest runs as a user would."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from rel_checks import catalog_violations, connect, crash_violations
from rel_child import run_ingest
from rel_corpus import Manifest

FULL = ("No space left on device", "database or disk is full")
ENV = {"MMRAG_INGEST__COMMIT_EVERY": "16", "MMRAG_INGEST__SAVE_INDEX_EVERY_S": "0"}


class Tmpfs:
    """``mount(size)`` mounts (first call) or resizes the filesystem at ``mountpoint``."""

    def __init__(self, mountpoint: Path) -> None:
        self.mountpoint = Path(mountpoint)
        self.mounted = False

    def mount(self, size: str) -> Path:
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        options = f"remount,size={size}" if self.mounted else f"size={size},mode=0755"
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(self.mountpoint)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise PermissionError(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
        self.mounted = True
        return self.mountpoint

    def unmount(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "-l", str(self.mountpoint)], check=False)
            self.mounted = False


def blamed_files(library: Path) -> list[str]:
    """Skip records whose reason is the library's disk, not the file."""
    with connect(library) as db:
        rows = db.execute("SELECT path, error FROM assets WHERE status = 'skipped'").fetchall()
    return [f"{path}: {error}" for path, error in rows
            if any(word in (error or "") for word in ("space", "disk", "unexpected"))]


def fill_cycles(ctx: Any, library: Path, manifest: Manifest, workdir: Path, disk: Tmpfs,
                sizes: tuple[str, ...]) -> dict[str, Any]:
    """Ingest into ``library`` (on ``disk``), growing the disk after each run that fails; every failure must
    be a clear disk-full error that leaves the crash invariants intact and blames no file."""
    failures: list[str] = []
    violations: list[str] = []
    for number, size in enumerate(sizes):
        disk.mount(size)
        log, result = workdir / f"full{number}.log", workdir / f"full{number}.json"
        proc = ctx.Process(target=run_ingest, args=(str(library), [manifest.root.as_posix()], ENV, str(log),
                                                    str(result)))
        proc.start()
        proc.join(600)
        if proc.exitcode == 0:
            return {"disk_full_failures": failures, "violations": violations, "fit_at": size}
        text = log.read_text(errors="replace")
        reason = next((r for r in FULL if r in text), None)
        failures.append(reason or "other")
        if reason is None:
            violations.append(f"run {number} at {size} failed without a disk-full error: {text[-2000:]}")
        violations += [f"after run {number} at {size}: {v}" for v in
                       catalog_violations(library) + crash_violations(library) + blamed_files(library)]
    return {"disk_full_failures": failures, "violations": violations, "fit_at": None}
