"""``tiny-test``: a Stable Diffusion pipeline, ControlNet and depth model with tiny, seeded random weights.

Built from configs (the small dimensions diffusers' own tests use: UNet block_out_channels=(32, 64), a CLIP
text encoder with hidden_size=32) and a CLIP tokenizer made from open_clip's bundled BPE vocabulary, so no
download is needed. The images it makes are NOISE: it exists so smoke runs, demos and tests exercise the whole
path (conditions → pipeline → provenance → index) offline in about a second.

Each model is built once, saved with ``save_pretrained`` under the cache folder (the ``cache_dir`` setting:
``MMRAG_CACHE_DIR`` or the user cache dir) and from then on loaded through the same ``from_pretrained`` code
real models use.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..errors import ModelNotFoundError
from .models import quiet_loading

VERSION = "v1"
KINDS = ("pipeline", "controlnet", "depth")
CROSS_ATTENTION_DIM = 32
VOCAB_SIZE = 49408  # CLIP's BPE vocabulary: 256 bytes × 2 + 48,894 merges + 2 special tokens


def cache_root(cache_dir: Path) -> Path:
    """Where this version's tiny models live under a cache folder (the ``cache_dir`` setting)."""
    return Path(cache_dir) / "tiny-test" / VERSION


def tiny_model_path(kind: str, cache_dir: Path) -> Path:
    """The folder of a tiny model under ``cache_dir``, building and saving it the first time (atomically:
    build, then rename)."""
    if kind not in KINDS:
        raise ValueError(f"unknown tiny model kind {kind!r}; valid: {', '.join(KINDS)}")
    target = cache_root(cache_dir) / kind
    if (target / ("model_index.json" if kind == "pipeline" else "config.json")).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=target.parent))
    try:
        with quiet_loading():
            BUILDERS[kind]().save_pretrained(scratch)
            if kind == "depth":
                tiny_depth_processor().save_pretrained(scratch)
        try:
            os.replace(scratch, target)
        except OSError:  # another process finished first
            pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def tiny_pipeline() -> Any:
    """A StableDiffusionPipeline of tiny random components (no safety checker)."""
    from diffusers import StableDiffusionPipeline

    return StableDiffusionPipeline(**tiny_components(), requires_safety_checker=False)


def tiny_components(seed: int = 0) -> dict[str, Any]:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = UNet2DConditionModel(
            block_out_channels=(32, 64),
            layers_per_block=2,
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=CROSS_ATTENTION_DIM,
        )
        vae = AutoencoderKL(
            block_out_channels=[32, 64],
            in_channels=3,
            out_channels=3,
            down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
            up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
            latent_channels=4,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                bos_token_id=49406,
                eos_token_id=49407,
                pad_token_id=49407,
                hidden_size=CROSS_ATTENTION_DIM,
                intermediate_size=37,
                layer_norm_eps=1e-05,
                num_attention_heads=4,
                num_hidden_layers=5,
                vocab_size=VOCAB_SIZE,
            )
        )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": clip_tokenizer(),
        "scheduler": tiny_scheduler(),
        "safety_checker": None,
        "feature_extractor": None,
        "image_encoder": None,
    }


def tiny_scheduler() -> Any:
    """Stable Diffusion 1.5's own scheduler settings."""
    from diffusers import PNDMScheduler

    return PNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        skip_prk_steps=True,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def tiny_controlnet(seed: int = 0) -> Any:
    import torch
    from diffusers import ControlNetModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        controlnet = ControlNetModel(
            block_out_channels=(32, 64),
            layers_per_block=2,
            in_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            cross_attention_dim=CROSS_ATTENTION_DIM,
            conditioning_embedding_out_channels=(16, 32),
        )
        # A fresh ControlNet is a no-op (zero convolutions, and a zero last layer in the condition embedding);
        # give those layers weights so the condition map really steers the tiny model.
        zero_layers = [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block,
                       controlnet.controlnet_cond_embedding.conv_out]
        for layer in zero_layers:
            torch.nn.init.normal_(layer.weight, std=0.2)
    return controlnet


def tiny_depth_model(seed: int = 0) -> Any:
    """A DPT depth estimator with a 4-layer, 32-wide ViT backbone (random weights)."""
    import torch
    from transformers import DPTConfig, DPTForDepthEstimation

    config = DPTConfig(
        image_size=32,
        patch_size=8,
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=37,
        backbone_out_indices=[0, 1, 2, 3],
        neck_hidden_sizes=[16, 16, 32, 32],
        fusion_hidden_size=16,
        head_in_index=-1,
        is_hybrid=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return DPTForDepthEstimation(config).eval()


def tiny_depth_processor() -> Any:
    from transformers import DPTImageProcessor

    return DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False, do_pad=False)


def clip_tokenizer() -> Any:
    """CLIP's tokenizer (the one Stable Diffusion uses) built from open_clip's bundled BPE file, offline."""
    from transformers import CLIPTokenizer

    vocab, merges = _clip_bpe()
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def _clip_bpe() -> tuple[dict[str, int], list[tuple[str, str]]]:
    lines = gzip.open(_bpe_file()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]  # open_clip's own slice
    symbols = list(_bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {token: index for index, token in enumerate(tokens)}, merges  # type: ignore[return-value]


def _bpe_file() -> Path:
    """open_clip's bundled vocabulary, found without importing open_clip (and torch with it)."""
    import importlib.util

    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            "tiny-test needs open_clip's bundled bpe_simple_vocab_16e6.txt.gz (pip install open_clip_torch)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "bpe_simple_vocab_16e6.txt.gz"


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte → printable character table (as in open_clip.tokenizer)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


BUILDERS = {"pipeline": tiny_pipeline, "controlnet": tiny_controlnet, "depth": tiny_depth_model}
