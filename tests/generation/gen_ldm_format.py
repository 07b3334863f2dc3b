"""Write a diffusers Stable Diffusion pipeline as ONE original-format (LDM / A1111) checkpoint, the kind
``from_single_file`` reads: ``model.diffusion_model.*``, ``first_stage_model.*``, ``cond_stage_model.*`` keys.

The inverse of diffusers' own ``convert_ldm_*`` functions (diffusers/loaders/single_file_utils.py) for SD 1.x
layouts of any depth, so the tests can build a tiny checkpoint offline and load it back the way users load a
downloaded ``.safetensors``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

RESNET = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
          "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}  # fmt: skip
VAE_ATTENTION = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out.0": "proj_out"}


def save_ldm_checkpoint(pipe: Any, path: Path) -> Path:
    from safetensors.torch import save_file

    state = {}
    state |= {f"model.diffusion_model.{k}": v for k, v in unet_to_ldm(pipe.unet).items()}
    state |= {f"first_stage_model.{k}": v for k, v in vae_to_ldm(pipe.vae).items()}
    state |= {f"cond_stage_model.transformer.{_clip_key(k)}": v for k, v in pipe.text_encoder.state_dict().items()}
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def unet_to_ldm(unet: Any) -> dict[str, Any]:
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    fixed = DIFFUSERS_TO_LDM_MAPPING["unet"]["layers"]
    per_level = unet.config.layers_per_block + 1
    has_attention = [hasattr(block, "attentions") for block in unet.up_blocks]
    out = {}
    for key, value in unet.state_dict().items():
        out[fixed.get(key) or _unet_key(key, per_level, has_attention)] = value
    return out


def _unet_key(key: str, per_level: int, up_attention: list[bool]) -> str:
    if m := re.match(r"down_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        level, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        return f"input_blocks.{per_level * level + j + 1}.{_part(kind, rest)}"
    if m := re.match(r"down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.*)", key):
        return f"input_blocks.{per_level * (int(m[1]) + 1)}.0.op.{m[2]}"
    if m := re.match(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key):
        index = 1 if m[1] == "attentions" else 2 * int(m[2])
        return f"middle_block.{index}.{_part(m[1], m[3])[2:]}"
    if m := re.match(r"up_blocks\.(\d+)\.(resnets|attentions)\.(\d+)\.(.*)", key):
        level, kind, j, rest = int(m[1]), m[2], int(m[3]), m[4]
        return f"output_blocks.{per_level * level + j}.{_part(kind, rest)}"
    if m := re.match(r"up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.*)", key):
        level = int(m[1])
        return f"output_blocks.{per_level * level + per_level - 1}.{2 if up_attention[level] else 1}.conv.{m[2]}"
    raise KeyError(f"no LDM name for UNet key {key!r}")


def _part(kind: str, rest: str) -> str:
    if kind == "attentions":
        return f"1.{rest}"
    name, _, tail = rest.partition(".")
    return f"0.{RESNET.get(name, name)}.{tail}"


def vae_to_ldm(vae: Any) -> dict[str, Any]:
    from diffusers.loaders.single_file_utils import DIFFUSERS_TO_LDM_MAPPING

    fixed = DIFFUSERS_TO_LDM_MAPPING["vae"]
    levels = len(vae.config.block_out_channels)
    out = {}
    for key, value in vae.state_dict().items():
        if key in fixed:
            out[fixed[key]] = value
            continue
        new = _vae_key(key, levels).replace("conv_shortcut", "nin_shortcut")
        if ".mid.attn_1." in new:
            for diffusers_name, ldm_name in VAE_ATTENTION.items():
                new = new.replace(f"attn_1.{diffusers_name}.", f"attn_1.{ldm_name}.")
            if value.ndim == 2:
                value = value[:, :, None, None]  # LDM keeps attention projections as 1×1 convolutions
        out[new] = value
    return out


def _vae_key(key: str, levels: int) -> str:
    if m := re.match(r"encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
        return f"encoder.down.{m[1]}.block.{m[2]}.{m[3]}"
    if m := re.match(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.(.*)", key):
        return f"encoder.down.{m[1]}.downsample.{m[2]}"
    if m := re.match(r"decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.(.*)", key):
        return f"decoder.up.{levels - 1 - int(m[1])}.block.{m[2]}.{m[3]}"
    if m := re.match(r"decoder\.up_blocks\.(\d+)\.upsamplers\.0\.(.*)", key):
        return f"decoder.up.{levels - 1 - int(m[1])}.upsample.{m[2]}"
    if m := re.match(r"(encoder|decoder)\.mid_block\.resnets\.(\d+)\.(.*)", key):
        return f"{m[1]}.mid.block_{int(m[2]) + 1}.{m[3]}"
    if m := re.match(r"(encoder|decoder)\.mid_block\.attentions\.0\.(.*)", key):
        return f"{m[1]}.mid.attn_1.{m[2]}"
    raise KeyError(f"no LDM name for VAE key {key!r}")


def _clip_key(key: str) -> str:
    """SD 1.x checkpoints hold transformers' CLIPTextModel keys under ``text_model.`` (transformers 5 dropped
    that level from its own state dict)."""
    return key if key.startswith("text_model.") else f"text_model.{key}"
