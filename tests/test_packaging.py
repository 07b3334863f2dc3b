"""The wheel must carry every package of the source tree (the repository root maps to `mmrag`)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOT_SHIPPED = {"tests", "bench", "docs", "docker", "examples", ".venv", "build", "dist"}


def test_every_source_package_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {"mmrag"} | {
        "mmrag." + ".".join(init.parent.relative_to(ROOT).parts)
        for init in ROOT.rglob("__init__.py")
        if init.parent != ROOT and init.parent.relative_to(ROOT).parts[0] not in NOT_SHIPPED
    }
    assert found == listed, f"missing from pyproject: {sorted(found - listed)}; stale: {sorted(listed - found)}"
    assert config["project"]["scripts"]["mmrag"] == "mmrag.cli:app"
