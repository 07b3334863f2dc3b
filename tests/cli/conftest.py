"""The CLI through typer's runner, on a real library folder (``tmp_path / "lib"``) with the tiny CLIP model."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmrag.cli import app


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``run(*args, ok=True)``: one ``mmrag`` command on the test's library; with ``ok``, exit code 0 asserted."""
    monkeypatch.setenv("MMRAG_CLIP_MODEL", "tiny-test")
    monkeypatch.setenv("MMRAG_DEVICE", "cpu")
    library = tmp_path / "lib"
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True) -> Any:
        result = runner.invoke(app, [*args, "--library", str(library)])
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return invoke
