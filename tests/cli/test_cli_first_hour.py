"""A new user's first hour, through the real ``mmrag`` command in a subprocess: a missing extra is one line
naming what to install, error text is printed as is, read commands never create a library by mistake."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.integration

# Runs the CLI with some modules made unimportable, as if their extra were not installed.
RUN_WITHOUT = (
    "import sys; blocked = sys.argv[1].split(','); sys.modules.update(dict.fromkeys(filter(None, blocked)));"
    "sys.argv = ['mmrag', *sys.argv[2:]]; from mmrag.cli import app; app()"
)


def mmrag(*args: str, without: str = "", env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "MMRAG_CLIP_MODEL": "tiny-test", "MMRAG_DEVICE": "cpu",
                   "COLUMNS": "80", **(env or {})}
    return subprocess.run([sys.executable, "-c", RUN_WITHOUT, without, *args], capture_output=True, text=True,
                          env=environment, cwd=cwd, timeout=300)


def one_clean_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.stderr  # (an ingest progress bar may stand above it)
    return lines[0]


def test_missing_faiss_names_the_extra(tmp_path: Path, photos: Path) -> None:
    line = one_clean_error(mmrag("ingest", str(photos / "coffee.jpg"), "--library", str(tmp_path / "lib"),
                                 without="faiss"))
    assert "pip install 'mmrag[cpu]'" in line and "'mmrag[gpu]'" in line


def test_missing_diffusers_names_the_generation_extra(tmp_path: Path, photos: Path) -> None:
    library = str(tmp_path / "lib")
    assert mmrag("ingest", str(photos / "coffee.jpg"), "--library", library).returncode == 0
    line = one_clean_error(mmrag("generate", "a cup", "--ref-image", str(photos / "coffee.jpg"), "--model",
                                 "tiny-test", "--steps", "2", "--library", library, without="diffusers"))
    assert "pip install 'mmrag[generation]'" in line


def test_missing_streamlit_names_the_ui_extra(tmp_path: Path) -> None:
    line = one_clean_error(mmrag("ui", "--library", str(tmp_path / "lib"), without="streamlit"))
    assert "pip install 'mmrag[ui]'" in line


def test_text_commands_show_no_weight_loading_bar(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "router.md").write_text("# Router\n\nHold the reset button for ten seconds to reset the router.\n")
    library = str(tmp_path / "lib")
    ingest = mmrag("ingest", str(docs), "--library", library)
    assert ingest.returncode == 0, ingest.stderr
    result = mmrag("search", "reset the router", "--kind", "text", "--library", library)
    assert result.returncode == 0 and "router.md" in result.stdout, result.stderr
    assert "Loading weights" not in result.stderr + ingest.stderr and "it/s]" not in result.stderr


def test_tiny_generation_model_defaults_to_a_small_image(tmp_path: Path, photos: Path) -> None:
    library = str(tmp_path / "lib")
    assert mmrag("ingest", str(photos / "coffee.jpg"), "--library", library).returncode == 0
    result = mmrag("generate", "a cup", "--ref-image", str(photos / "coffee.jpg"), "--model", "tiny-test",
                   "--steps", "2", "--json", "--library", library)
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)
    paths = [item["path"] for item in (outputs["images"] if isinstance(outputs, dict) else outputs)]
    assert paths and all(Image.open(path).size == (64, 64) for path in paths)
