"""The diffusers generator on tiny pipelines saved by the tests and loaded back through the users' code path."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from mmrag.generation.base import Job, Reference
from mmrag.generation.conditions import build_conditions, fit_image
from mmrag.generation.diffusers_generator import DiffusersGenerator
from mmrag.generation.request import GenerationRequest

SIZE = 32  # tiny VAE (factor 2) → 16×16 latents


def make_request(generator, **overrides) -> GenerationRequest:
    values = {"prompt": "a watercolor lighthouse", "model": generator.models["model"], "steps": 3,
              "strength": 0.7, "width": SIZE, "height": SIZE, "controlnet": generator.models.get("controlnet")}
    return GenerationRequest(**(values | overrides)).validate()


def run(generator, request, refs, seeds, progress=None) -> list[np.ndarray]:
    conditions = build_conditions(request, refs)
    job = Job(conditions if request.combine == "multi" or not conditions else conditions[:1], seeds)
    return [np.asarray(image) for image in generator.run(request, job, progress)]


def test_saved_pipeline_is_loaded_back_with_its_weights(generator, pipeline_dir: Path) -> None:
    saved = load_file(pipeline_dir / "unet" / "diffusion_pytorch_model.safetensors")
    loaded = generator.base.unet.state_dict()
    assert saved.keys() == loaded.keys() and all(torch.equal(saved[k], loaded[k]) for k in saved)
    assert type(generator.base).__name__ == "StableDiffusionPipeline" and generator.base.safety_checker is None
    assert generator.base.tokenizer("a lighthouse").input_ids == [49406, 320, 13717, 49407]  # CLIP's real BPE


def test_every_mode_shares_the_loaded_weights(generator) -> None:
    expected = {"img2img": "StableDiffusionImg2ImgPipeline", "controlnet": "StableDiffusionControlNetPipeline",
                "controlnet-img2img": "StableDiffusionControlNetImg2ImgPipeline"}
    for mode, class_name in expected.items():
        pipe = generator.pipeline(mode)
        assert type(pipe).__name__ == class_name
        assert pipe.unet is generator.base.unet and pipe.vae is generator.base.vae
        assert pipe.text_encoder is generator.base.text_encoder
        if mode.startswith("controlnet"):
            assert pipe.controlnet is generator.controlnet
    assert generator.pipeline("img2img") is generator.pipeline("img2img")  # made once


def test_img2img_init_is_the_fitted_reference_and_seeds_reproduce(generator, astronaut: Image.Image) -> None:
    request = make_request(generator, mode="img2img")
    first = run(generator, request, [Reference(astronaut)], [3])
    assert np.array_equal(np.asarray(generator.last_call["image"]), np.asarray(fit_image(astronaut, SIZE, SIZE)))
    assert generator.last_call["strength"] == 0.7
    again = run(generator, request, [Reference(astronaut)], [3])
    other = run(generator, request, [Reference(astronaut)], [4])
    assert first[0].shape == (SIZE, SIZE, 3)
    assert np.array_equal(first[0], again[0])  # bit-identical
    assert not np.array_equal(first[0], other[0])
    batch = run(generator, request, [Reference(astronaut)], [3, 4])
    assert np.abs(batch[0].astype(int) - first[0]).max() <= 1 and np.abs(batch[1].astype(int) - other[0]).max() <= 1


def test_controlnet_condition_is_the_canny_map_of_the_reference(generator, astronaut: Image.Image) -> None:
    request = make_request(generator, mode="controlnet")
    image = run(generator, request, [Reference(astronaut)], [5])[0]
    control = np.asarray(generator.last_call["image"])
    assert np.array_equal(control[..., 0], cv2.Canny(np.asarray(fit_image(astronaut, SIZE, SIZE)), 100, 200))
    assert generator.last_call["controlnet_conditioning_scale"] == 1.0
    flipped = run(generator, request, [Reference(astronaut.transpose(Image.Transpose.FLIP_TOP_BOTTOM))], [5])[0]
    assert image.shape == (SIZE, SIZE, 3) and not np.array_equal(image, flipped)  # the map steers the output


def test_multi_controlnet_uses_every_reference(generator, astronaut: Image.Image) -> None:
    refs = [Reference(astronaut), Reference(astronaut.rotate(90))]
    request = make_request(generator, mode="controlnet-img2img", combine="multi", control_scale=0.5)
    images = run(generator, request, refs, [1, 2])
    pipe = generator.pipeline("controlnet-img2img", 2)
    assert type(pipe.controlnet).__name__ == "MultiControlNetModel" and len(pipe.controlnet.nets) == 2
    controls = generator.last_call["control_image"]
    for control, ref in zip(controls, refs, strict=True):
        expected = cv2.Canny(np.asarray(fit_image(ref.image, SIZE, SIZE)), 100, 200)
        assert np.array_equal(np.asarray(control)[..., 0], expected)
    assert np.array_equal(np.asarray(generator.last_call["image"]), np.asarray(fit_image(astronaut, SIZE, SIZE)))
    assert generator.last_call["controlnet_conditioning_scale"] == [0.5, 0.5] and len(images) == 2


def test_progress_is_reported_every_step(generator) -> None:
    steps: list[tuple[int, int]] = []
    run(generator, make_request(generator, mode="txt2img", steps=4), [], [0], lambda i, n: steps.append((i, n)))
    total = steps[-1][1]
    assert [s for s, _ in steps] == list(range(1, total + 1)) and total >= 4  # PNDM adds one warm-up call


@pytest.mark.parametrize("scheduler", ["euler-a", "dpm++"])
def test_named_scheduler_is_used_and_reproducible(generator, scheduler: str) -> None:
    default = make_request(generator, mode="txt2img", steps=2)
    before = run(generator, default, [], [9])
    request = make_request(generator, mode="txt2img", scheduler=scheduler, steps=2)
    first = run(generator, request, [], [9])
    assert type(generator.pipeline("txt2img").scheduler).__name__ in (
        "EulerAncestralDiscreteScheduler", "DPMSolverMultistepScheduler")
    assert np.array_equal(first[0], run(generator, request, [], [9])[0]) and not np.array_equal(first[0], before[0])
    assert np.array_equal(run(generator, default, [], [9])[0], before[0])  # "default" is still the model's own
    assert type(generator.pipeline("txt2img").scheduler).__name__ == "PNDMScheduler"


def test_lora_weights_load_and_scale(pipeline_dir: Path, tmp_path: Path) -> None:
    from diffusers import StableDiffusionPipeline, UNet2DConditionModel
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = UNet2DConditionModel.from_pretrained(pipeline_dir / "unet")
    torch.manual_seed(0)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v", "to_out.0"],
                                init_lora_weights=False))
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(tmp_path, unet_lora_layers=layers, safe_serialization=True)
    lora_file = tmp_path / "pytorch_lora_weights.safetensors"

    plain = DiffusersGenerator.load(GenerationRequest("x", model=str(pipeline_dir)).validate(), "cpu")
    styled = DiffusersGenerator.load(GenerationRequest("x", model=str(pipeline_dir), lora=str(lora_file)), "cpu")
    assert plain.loader.loads["lora"] == 0 and styled.loader.loads == {"pipeline": 1, "lora": 1}
    assert styled.models["lora"] == str(lora_file)
    outputs = {}
    for name, gen, scale in (("plain", plain, 1.0), ("zero", styled, 0.0), ("full", styled, 1.0)):
        request = make_request(gen, mode="txt2img", lora=None if name == "plain" else str(lora_file), lora_scale=scale)
        outputs[name] = run(gen, request, [], [11])[0]
    assert np.array_equal(outputs["plain"], outputs["zero"])  # scale 0 switches the LoRA off
    assert not np.array_equal(outputs["plain"], outputs["full"])


def test_single_file_checkpoint_loads_through_from_single_file(generator, pipeline_dir: Path, tmp_path: Path) -> None:
    from gen_ldm_format import save_ldm_checkpoint

    from mmrag.errors import ModelNotFoundError

    checkpoint = save_ldm_checkpoint(generator.base, tmp_path / "tiny-sd15.safetensors")  # LDM/A1111 key names
    request = GenerationRequest("x", model=str(checkpoint), model_config=str(pipeline_dir)).validate()
    single = DiffusersGenerator.load(request, "cpu")
    for name in ("unet", "vae", "text_encoder"):
        expected, loaded = getattr(generator.base, name).state_dict(), getattr(single.base, name).state_dict()
        assert expected.keys() == loaded.keys() and all(torch.equal(expected[k], loaded[k]) for k in expected)
    txt2img = {"mode": "txt2img", "steps": 2}
    assert np.array_equal(run(single, make_request(single, **txt2img), [], [8])[0],
                          run(generator, make_request(generator, **txt2img), [], [8])[0])
    with pytest.raises(ModelNotFoundError, match="needs the diffusers config of 'stable-diffusion-v1-5/.*model-config"):
        DiffusersGenerator.load(GenerationRequest("x", model=str(checkpoint)).validate(), "cpu")
