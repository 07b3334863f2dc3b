"""``mmrag generate`` on a real library with the tiny-test models."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

ENV = {"MMRAG_CLIP_MODEL": "tiny-test", "MMRAG_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}
FAST = ["--model", "tiny-test", "--steps", "3", "--strength", "0.7", "--width", "32", "--height", "32"]


def test_the_cli_module_imports_no_heavy_libraries() -> None:
    code = "import sys, mmrag.cli.generate; print([m for m in ('torch', 'diffusers', 'cv2') if m in sys.modules])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.fixture
def library(tmp_path: Path, photo_files: list[Path], tiny_clip) -> Path:
    """A library folder with the three photos."""
    from mmrag import Library

    path = tmp_path / "library"
    with Library(path, clip_model="tiny-test", device="cpu", clip=tiny_clip) as lib:
        lib.ingest([photo_files[0].parent])
    return path


def test_generate_json_lists_outputs(library: Path) -> None:
    from mmrag.cli import app

    args = ["generate", "a watercolor poster", "--like", "a cat", "--k", "2", "-n", "2", "--seed", "4",
            "--mode", "controlnet", "--control", "canny", "--control-low", "80", *FAST, "--library", str(library),
            "--json"]
    result = CliRunner().invoke(app, args, env=ENV)
    assert result.exit_code == 0, result.output
    outputs = json.loads(result.stdout)
    assert [o["seed"] for o in outputs] == [4, 5, 6, 7]  # 2 references × n=2
    for output in outputs:
        assert Path(output["path"]).is_file() and output["asset_id"] > 3 and output["clip_score"] is not None
        assert len(output["refs"]) == 1 and output["refs"][0]["asset_id"] in (1, 2, 3)


def test_generate_table_and_errors(library: Path, photo_files: list[Path]) -> None:
    from mmrag.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["generate", "same scene in winter", "--ref-image", str(photo_files[0]), *FAST,
                             "--library", str(library)], env=ENV)
    assert ok.exit_code == 0, ok.output
    row = ok.stdout.splitlines()[1].split()
    assert row[0] == "4" and row[4] == "#1"  # the new asset id, and the reference by its library id
    bad = runner.invoke(app, ["generate", "x", "--like", "a cat", *FAST, "--width", "100", "--library",
                              str(library)], env=ENV)
    assert bad.exit_code == 1 and "width must be a multiple of 8, got 100" in bad.output
    missing = runner.invoke(app, ["generate", "x", "--like", "a cat", "--model", "./models/sd15", "--library",
                                  str(library)], env=ENV)
    assert missing.exit_code == 1 and "Stable Diffusion model './models/sd15' not found" in missing.output


def test_a_mode_without_references_names_the_cli_flags(tmp_path: Path) -> None:
    from mmrag.cli import app

    result = CliRunner().invoke(app, ["generate", "a cat", "--library", str(tmp_path / "library"), *FAST], env=ENV)
    assert result.exit_code == 2 and "needs at least one reference image" in result.output
    assert "--ref-id" in result.output and "ref_ids" not in result.output
    assert not (tmp_path / "library").exists()  # refused before the library is opened
