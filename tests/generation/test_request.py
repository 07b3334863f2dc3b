"""Validation happens before any model work, and every error quotes the bad value."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmrag.errors import ModelNotFoundError
from mmrag.generation.request import GenerationRequest
from mmrag.generation.schedulers import SCHEDULERS, make_scheduler


def request(**overrides) -> GenerationRequest:
    values = {"prompt": "a lighthouse", "model": "tiny-test", "steps": 10, "strength": 0.6}
    return GenerationRequest(**(values | overrides))


def test_zero_denoising_steps_is_refused_with_the_numbers() -> None:
    with pytest.raises(ValueError, match=r"strength 0\.05 × steps 10 gives int\(0\.5\) = 0 denoising steps") as err:
        request(strength=0.05).validate()
    assert "at least 20" in str(err.value)
    request(strength=0.1).validate()  # int(1.0) == 1 step is enough
    request(mode="controlnet", strength=0.01).validate()  # no init image: strength is not used


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"width": 100}, "width must be a multiple of 8, got 100"),
        ({"height": 0}, "height must be ≥ 8, got 0"),
        ({"steps": 0}, "steps must be ≥ 1, got 0"),
        ({"n": 0}, "n must be ≥ 1, got 0"),
        ({"n": 1.5}, "n must be an integer, got 1.5"),
        ({"guidance": -1.0}, r"guidance must be in \[0, 100\], got -1.0"),
        ({"strength": 1.5}, r"strength must be in \(0, 1\], got 1.5"),
        ({"seed": -3}, "seed must be ≥ 0, got -3"),
        ({"prompt": "  "}, "prompt must be a non-empty string"),
        ({"mode": "inpaint"}, "unknown mode 'inpaint'; valid modes: txt2img, img2img, controlnet, controlnet-img2img"),
        ({"mode": "controlnet", "control": "hed"}, "unknown control 'hed'; valid controls: canny, depth"),
        ({"scheduler": "dpm"}, "unknown scheduler 'dpm'; valid schedulers: default, ddim"),
        ({"combine": "multi"}, "combine='multi' needs a ControlNet mode"),
        ({"mode": "controlnet", "control_low": 200, "control_high": 100}, r"control_low \(200\) must not exceed"),
    ],
)
def test_bad_parameters_name_the_value(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        request(**overrides).validate()


def test_modes_that_need_references_say_so() -> None:
    with pytest.raises(ValueError, match="mode 'img2img' needs at least one reference image, got none") as caught:
        request().check_references(0)
    assert "ref_ids" in str(caught.value) and "--" not in str(caught.value)  # Python's names, not CLI flags
    request(mode="txt2img").check_references(0)


def test_missing_model_files_fail_fast_and_say_how_to_provide_them(tmp_path: Path) -> None:
    missing = tmp_path / "models" / "sd15"
    with pytest.raises(ModelNotFoundError) as err:
        request(model=str(missing)).validate()
    text = str(err.value)
    assert str(missing) in text and "save_pretrained" in text and ".safetensors" in text and "tiny-test" in text

    with pytest.raises(ModelNotFoundError, match="no model_index.json"):
        request(model=str(tmp_path)).validate()  # a folder, but not a diffusers pipeline
    with pytest.raises(ModelNotFoundError, match=r"LoRA weights '.*ink\.safetensors' not found"):
        request(lora=str(tmp_path / "ink.safetensors")).validate()
    with pytest.raises(ModelNotFoundError, match="ControlNet model './models/canny' not found"):
        request(mode="controlnet", controlnet="./models/canny").validate()


def test_uncached_hub_ids_fail_at_once_offline() -> None:
    start = time.perf_counter()
    with pytest.raises(ModelNotFoundError) as err:
        request(model="someone/not-a-cached-model").validate()
    assert time.perf_counter() - start < 2.0
    assert "HF_HUB_OFFLINE" in str(err.value) and "hf download someone/not-a-cached-model" in str(err.value)
    with pytest.raises(ModelNotFoundError, match="depth model 'org/depth' not found"):
        request(mode="controlnet", control="depth", depth_model="org/depth").validate()


def test_validation_loads_nothing() -> None:
    """Validating a request that uses every model kind imports no model library (let alone a model)."""
    code = ("import sys\n"
            "from mmrag.generation.request import GenerationRequest\n"
            "GenerationRequest('x', mode='controlnet-img2img', control='depth', model='tiny-test').validate()\n"
            "print(sorted(m for m in ('torch', 'diffusers', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300)
    assert result.stdout.strip() == "[]"


def test_params_record_what_the_mode_uses() -> None:
    params = request(mode="controlnet", control="depth").validate().to_params()
    assert params["depth_model"] == "tiny-test" and "strength" not in params and "control_low" not in params
    params = request().to_params()
    assert params["strength"] == 0.6 and params["denoising_steps"] == 6 and "control" not in params


def test_scheduler_registry_builds_every_scheduler_from_the_model_config() -> None:
    from mmrag.generation.tiny import tiny_scheduler

    config = tiny_scheduler().config
    for name, (class_name, _) in SCHEDULERS.items():
        scheduler = make_scheduler(name, config)
        assert (scheduler is None) if class_name is None else type(scheduler).__name__ == class_name
        if scheduler is not None:
            assert scheduler.config.beta_schedule == "scaled_linear"  # the model's betas carried over
    with pytest.raises(ValueError, match="valid schedulers: default, ddim, pndm, euler, euler-a"):
        make_scheduler("k_euler", config)
