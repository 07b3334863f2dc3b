"""Denoising speed of mmrag's generation path with the Stable Diffusion 1.5 architecture (random weights).

No SD weights exist offline here, so the models are built from SD 1.5's config dimensions (UNet
block_out_channels (320, 640, 1280, 1280), cross_attention_dim 768, 8 heads; the SD VAE; a ViT-L/14-sized CLIP
text encoder; a ControlNet made from the UNet with ControlNetModel.from_unet) and randomly initialised. Speed
does not depend on the weight values. Each mode runs through mmrag's DiffusersGenerator (from_pipe pipelines,
Canny conditions from a real photo, CPU-seeded generators), with classifier-free guidance (batch 2 per image).

    .venv/bin/python bench/bench_generate.py --size 128 --steps 4 --runs 3            # CPU
    python bench/bench_generate.py --device cuda --dtype fp16 --size 512 --steps 30  # a GPU

Reported per mode: denoising it/s (1 / median time between step callbacks, first step of each run dropped),
and the median wall time of a whole call (text encoding, VAE encode/decode and conditions included).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from typing import Any


def sd15_components(dtype: Any) -> dict[str, Any]:
    import torch
    from diffusers import AutoencoderKL, PNDMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from mmrag.generation.tiny import clip_tokenizer

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        block_out_channels=(320, 640, 1280, 1280),
        layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=768,
        attention_head_dim=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(hidden_size=768, intermediate_size=3072, num_attention_heads=12, num_hidden_layers=12,
                       max_position_embeddings=77, vocab_size=49408, hidden_act="quick_gelu",
                       bos_token_id=49406, eos_token_id=49407, pad_token_id=49407, projection_dim=768)
    )
    scheduler = PNDMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              skip_prk_steps=True, set_alpha_to_one=False, steps_offset=1)
    parts = {"unet": unet, "vae": vae, "text_encoder": text_encoder}
    for module in parts.values():
        module.to(dtype=dtype).eval()
    return {**parts, "tokenizer": clip_tokenizer(), "scheduler": scheduler, "safety_checker": None,
            "feature_extractor": None, "image_encoder": None}


def build_generator(device: str, dtype: Any) -> Any:
    from diffusers import ControlNetModel, StableDiffusionPipeline

    from mmrag.generation.diffusers_generator import DiffusersGenerator

    components = sd15_components(dtype)
    controlnet = ControlNetModel.from_unet(components["unet"]).to(dtype=dtype).eval()
    base = StableDiffusionPipeline(**components, requires_safety_checker=False).to(device)
    base.set_progress_bar_config(disable=True)
    models = {"model": "sd15-architecture-random", "controlnet": "from_unet-random"}
    return DiffusersGenerator(base, controlnet=controlnet.to(device), device=device, dtype=dtype, models=models)


def bench_mode(generator: Any, mode: str, args: argparse.Namespace, reference: Any) -> dict[str, Any]:
    from mmrag.generation.base import Job, Reference
    from mmrag.generation.conditions import build_conditions
    from mmrag.generation.request import GenerationRequest

    request = GenerationRequest("a watercolor poster of a lighthouse", mode=mode, steps=args.steps,
                                strength=args.strength, width=args.size, height=args.size, model="tiny-test")
    conditions = build_conditions(request, [Reference(reference)])
    step_times: list[float] = []
    walls: list[float] = []
    for run in range(args.warmup + args.runs):
        stamps: list[float] = []
        start = time.perf_counter()
        generator.run(request, Job(conditions, [run]), lambda i, n, stamps=stamps: stamps.append(time.perf_counter()))
        _sync(generator.device)
        wall = time.perf_counter() - start
        if run >= args.warmup:
            walls.append(wall)
            step_times += [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    step = statistics.median(step_times)
    return {"mode": mode, "size": args.size, "steps": request.steps, "denoising_steps": request.denoising_steps,
            "it_per_s": round(1.0 / step, 3), "s_per_it": round(step, 3),
            "median_call_s": round(statistics.median(walls), 2), "runs": args.runs}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=("fp32", "fp16", "bf16"))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--strength", type=float, default=0.75)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--modes", default="img2img,controlnet,controlnet-img2img")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()

    import torch
    from PIL import Image
    from skimage import data

    if args.threads:
        torch.set_num_threads(args.threads)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[args.dtype]
    started = time.perf_counter()
    generator = build_generator(args.device, dtype)
    build_s = time.perf_counter() - started
    reference = Image.fromarray(data.astronaut())
    results = [bench_mode(generator, mode, args, reference) for mode in args.modes.split(",")]
    report = {
        "device": args.device, "dtype": args.dtype, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
        "loadavg_after": [round(x, 2) for x in os.getloadavg()], "build_s": round(build_s, 1), "results": results,
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    print("\n| mode | size | steps (denoising) | it/s | s/it | median call s |\n|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['mode']} | {r['size']}² | {r['steps']} ({r['denoising_steps']}) | {r['it_per_s']} | "
              f"{r['s_per_it']} | {r['median_call_s']} |")


if __name__ == "__main__":
    main()
