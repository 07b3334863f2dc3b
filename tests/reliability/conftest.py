"""Fixtures of the reliability tests: a small ingested library, root privileges, a real tiny filesystem.

The helper modules here (rel_*.py) are imported by name: pytest's prepend import mode puts this folder on
sys.path. bench/fault_trials.py imports the same modules to run the trials at a larger scale.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture
def ingested(photos: Path, make_library: Callable[..., Any]) -> Any:
    """A library holding the 15 sample photos (in-process, tiny CLIP)."""
    lib = make_library()
    lib.ingest([photos])
    return lib


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount a size-limited tmpfs (root only; skips otherwise). Call it with a size such as '1m'; call it
    again to resize (remount) the same filesystem."""
    mountpoint = tmp_path / "tmpfs"
    mounted = False

    def mount(size: str) -> Path:
        nonlocal mounted
        mountpoint.mkdir(exist_ok=True)
        options = f"remount,size={size}" if mounted else f"size={size},mode=0755"
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mountpoint)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or done.returncode}); "
                        "the injected-ENOSPC test covers this case")
        mounted = True
        return mountpoint

    if not is_root():
        pytest.skip("mounting a tmpfs needs root; the injected-ENOSPC test covers this case")
    yield mount
    if mounted:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
