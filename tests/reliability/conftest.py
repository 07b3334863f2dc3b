"""Fixtures of the reliability tests: a small ingested library, root privileges, a real tiny filesystem.

The helper modules here (rel_*.py) are imported by name: pytest's prepend import mode puts this folder on
sys.path. bench/fault_trials.py imports the same modules to run the trials at a larger scale.
"""

from __future__ import annotations

import os
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
def tmpfs(tmp_path: Path) -> Iterator[Any]:
    """A size-limited tmpfs (rel_disk.Tmpfs; root only, skips otherwise): ``tmpfs.mount('1m')`` mounts it,
    a later ``mount`` resizes it."""
    from rel_disk import Tmpfs

    if not is_root():
        pytest.skip("mounting a tmpfs needs root; the injected-ENOSPC test covers this case")
    disk = Tmpfs(tmp_path / "tmpfs")
    try:
        disk.mount("64k")
    except PermissionError as exc:
        pytest.skip(f"{exc}; the injected-ENOSPC test covers this case")
    yield disk
    disk.unmount()
