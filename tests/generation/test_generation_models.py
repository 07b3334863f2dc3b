"""Where models come from: tiny-test's on-disk cache, the Hugging Face cache, devices."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mmrag.errors import ModelNotFoundError
from mmrag.generation.loader import ModelLoader
from mmrag.generation.models import check_model_spec, classify, resolve_device
from mmrag.generation.tiny import tiny_model_path


def test_tiny_test_is_built_once_then_loaded_like_any_saved_model(tiny_model_cache: Path) -> None:
    folder = tiny_model_path("controlnet", tiny_model_cache)
    assert folder.parent.parent.parent == tiny_model_cache and (folder / "config.json").is_file()
    stamp = (folder / "config.json").stat().st_mtime_ns
    assert tiny_model_path("controlnet", tiny_model_cache) == folder
    assert (folder / "config.json").stat().st_mtime_ns == stamp
    loader = ModelLoader(tiny_model_cache)
    model = loader.controlnet("tiny-test", dtype=torch.float32)
    assert loader.loads == {"controlnet": 1} and type(model).__name__ == "ControlNetModel"
    assert model.config.cross_attention_dim == 32 and model.dtype == torch.float32
    assert [p.name for p in folder.parent.iterdir() if p.name.startswith(".")] == []  # no scratch folders left


def test_model_specs_are_classified(tmp_path: Path) -> None:
    (tmp_path / "model.ckpt").write_bytes(b"")
    assert classify("tiny-test", "pipeline").kind == "tiny"
    assert classify(str(tmp_path), "pipeline").kind == "folder"
    assert classify(str(tmp_path / "model.ckpt"), "pipeline").kind == "file"
    assert classify("stable-diffusion-v1-5/stable-diffusion-v1-5", "pipeline").kind == "hub"
    for bad in ("./sd15", "~/nothing/here", "model.safetensors", "not a model"):
        with pytest.raises(ModelNotFoundError, match="not found"):
            classify(bad, "pipeline")
    with pytest.raises(ModelNotFoundError, match="a depth model must be a folder or a hub id"):
        check_model_spec(str(tmp_path / "model.ckpt"), "depth")


def test_auto_device_on_this_machine() -> None:
    if torch.cuda.is_available():
        assert resolve_device("auto") == ("cuda", torch.float16)
    else:
        assert resolve_device("auto") == ("cpu", torch.float32)
        with pytest.raises(ValueError, match="'cuda' requested but torch sees no CUDA device"):
            resolve_device("cuda")


@pytest.mark.integration
def test_hub_id_loads_from_the_hf_cache_offline(tmp_path: Path, tiny_model_cache: Path) -> None:
    """A ControlNet 'downloaded earlier' (laid out as huggingface_hub does) loads by its id with
    HF_HUB_OFFLINE=1; an id that is not cached fails at once, naming the ways to provide it."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--mmrag-test--tiny-controlnet"
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for file in tiny_model_path("controlnet", tiny_model_cache).iterdir():
        (snapshot / file.name).write_bytes(file.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    code = (
        "import json, torch\n"
        "from mmrag.generation.loader import ModelLoader\n"
        "load_controlnet = ModelLoader().controlnet\n"
        "from mmrag.errors import ModelNotFoundError\n"
        "model = load_controlnet('mmrag-test/tiny-controlnet', dtype=torch.float32)\n"
        "try:\n"
        "    load_controlnet('mmrag-test/not-downloaded', dtype=torch.float32)\n"
        "except ModelNotFoundError as exc:\n"
        "    error = str(exc)\n"
        "print(json.dumps({'class': type(model).__name__, 'params': sum(p.numel() for p in model.parameters()),"
        " 'error': error}))\n"
    )
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["class"] == "ControlNetModel" and report["params"] > 0
    assert "ControlNet model 'mmrag-test/not-downloaded' not found" in report["error"]
    assert "HF_HUB_OFFLINE is set" in report["error"] and "--controlnet ./models/name" in report["error"]
