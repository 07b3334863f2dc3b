"""Export an open_clip text tower to ONNX once per library, checked against torch before it is used.

The export runs the tower on trimmed ids (dynamic batch and length) with attention written out in plain
tensor ops: ``nn.MultiheadAttention`` traces with its shapes baked in. Only towers made of open_clip's
standard ``ResidualAttentionBlock`` (and an exact trim, see :mod:`mmrag.models.clip_text`) are exported;
others keep the torch path. Needs the ``onnx`` package (the ``onnx`` extra) at export time only.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .clip_text import eos_id, pool_type, text_parts
from .onnx_common import OPSET, build_export, quiet_tracer, save_optimized
from .onnx_text import (
    FORMAT,
    MODEL_FILE,
    TOKENIZER_FILE,
    WEIGHTS_FILE,
    ClipTokenizer,
    ExportMeta,
    OnnxTextEncoder,
    export_folder,
    weights_stamp,
)

CHECK_TEXTS = (
    "a", "a cat", "a red bicycle leaning on a wall", "two dogs playing in the snow at night near a lake",
    "A Photo Of The Eiffel Tower, at dawn; misty & quiet!", "café crème brûlée 東京 タワー",
    " ".join(["word"] * 90),  # longer than the context: truncated, EOT kept
)


class ExportableTextTower(nn.Module):
    """The same computation as ``encode_text`` on trimmed ids, in ops that export with dynamic shapes.

    Holds the text modules only (the image tower is not part of it), so a copy of it is cheap.
    """

    def __init__(self, parts: Any) -> None:
        super().__init__()
        self.pool = pool_type(parts)
        self.eos = eos_id(parts)
        self.token_embedding = parts.token_embedding
        self.positional_embedding = parts.positional_embedding
        self.resblocks = parts.transformer.resblocks
        self.ln_final = parts.ln_final
        self.text_projection = parts.text_projection
        self.register_buffer("attn_mask", parts.attn_mask, persistent=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        length = ids.shape[1]
        x = self.token_embedding(ids) + self.positional_embedding[:length]
        mask = self.attn_mask[:length, :length]
        for block in self.resblocks:
            x = x + block.ls_1(_attention(block.attn, block.ln_1(x), mask))
            x = x + block.ls_2(block.mlp(block.ln_2(x)))
        x = self.ln_final(x)
        where = (ids == self.eos).int().argmax(dim=-1) if self.pool == "eos" else ids.argmax(dim=-1)
        x = x[torch.arange(x.shape[0]), where]
        projection = self.text_projection
        if projection is None:
            return x
        return projection(x) if isinstance(projection, nn.Linear) else x @ projection


def _attention(attn: nn.MultiheadAttention, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    batch, heads = x.shape[0], attn.num_heads
    q, k, v = nn.functional.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)
    q, k, v = (t.reshape(batch, -1, heads, attn.head_dim).transpose(1, 2) for t in (q, k, v))
    scores = (q @ k.transpose(-2, -1)) * (attn.head_dim ** -0.5) + mask
    out = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(batch, -1, attn.embed_dim)
    return attn.out_proj(out)


def exportable(model: Any, tokenizer: Any) -> bool:
    """True when the tower trims exactly, is built from standard blocks, and uses open_clip's BPE tokenizer."""
    parts = text_parts(model)
    if parts is None or not hasattr(tokenizer, "bpe_ranks") or not hasattr(tokenizer, "encoder"):
        return False
    for block in parts.transformer.resblocks:
        attn = getattr(block, "attn", None)
        if type(block).__name__ != "ResidualAttentionBlock" or not isinstance(attn, nn.MultiheadAttention):
            return False
        if not attn._qkv_same_embed_dim or attn.in_proj_bias is None or hasattr(block, "ln_1_kv"):
            return False
    return True


def save_tokenizer(tokenizer: Any, path: Path) -> None:
    """open_clip's SimpleTokenizer as a ``tokenizers`` file (transformers' CLIP converter, special tokens kept)."""
    from tokenizers import Regex, Tokenizer, decoders, normalizers, pre_tokenizers
    from tokenizers.models import BPE

    merges = [pair for pair, _ in sorted(tokenizer.bpe_ranks.items(), key=lambda item: item[1])]
    bpe = Tokenizer(BPE(vocab=dict(tokenizer.encoder), merges=merges, continuing_subword_prefix="",
                        end_of_word_suffix="</w>", fuse_unk=False))
    bpe.normalizer = normalizers.NFC()  # the rest of open_clip's cleaning is onnx_text.clean_text
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""),
                             behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    bpe.add_special_tokens([tokenizer.decoder[i] for i in getattr(tokenizer, "all_special_ids", [])])
    bpe.save(str(path))


def export_text_tower(model: Any, tokenizer: Any, library: Path, fingerprint: str,
                      pretrained: str | None) -> ExportMeta:
    """Export, check against ``model.encode_text`` (cos >= MIN_COSINE) and move into place atomically."""
    if not exportable(model, tokenizer):
        raise ValueError(f"the text tower of {fingerprint!r} cannot be exported to ONNX (not a causal "
                         "argmax/eos-pooled open_clip tower of standard blocks with open_clip's tokenizer)")
    parts = text_parts(model)

    def build(work: Path) -> ExportMeta:
        tower = copy.deepcopy(ExportableTextTower(parts)).float().cpu().eval()
        sample = torch.from_numpy(np.asarray(tokenizer(["a photo of a cat"]))[:, :8])
        with torch.inference_mode(False), torch.no_grad(), quiet_tracer():
            torch.onnx.export(tower, (sample,), str(work / MODEL_FILE), dynamo=False, opset_version=OPSET,
                              input_names=["input_ids"], output_names=["text_embeds"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "length"}, "text_embeds": {0: "batch"}})
        save_optimized(work / MODEL_FILE, WEIGHTS_FILE)
        save_tokenizer(tokenizer, work / TOKENIZER_FILE)
        meta = ExportMeta(format=FORMAT, fingerprint=fingerprint, weights_stamp=weights_stamp(pretrained),
                          dim=int(_out_dim(parts)), context_length=int(parts.positional_embedding.shape[0]),
                          pool=pool_type(parts), eos_id=eos_id(parts), sot_token=int(tokenizer.sot_token_id),
                          eot_token=int(tokenizer.eot_token_id), min_cosine=0.0)
        return replace(meta, min_cosine=_check(model, tokenizer, work, meta))

    return build_export(export_folder(library, fingerprint), build)


def _out_dim(parts: Any) -> int:
    projection = parts.text_projection
    if projection is None:
        return int(parts.positional_embedding.shape[1])
    return int(projection.out_features if isinstance(projection, nn.Linear) else projection.shape[1])


def _check(model: Any, tokenizer: Any, folder: Path, meta: ExportMeta) -> float:
    """Worst cosine between the export (with its own tokenizer) and torch's encode_text, one text and a batch."""
    ours = ClipTokenizer(folder / TOKENIZER_FILE, meta.sot_token, meta.eot_token, meta.context_length)
    ids = np.asarray(tokenizer(list(CHECK_TEXTS)))
    if not np.array_equal(ours(CHECK_TEXTS), ids):
        return 0.0
    device = next(model.parameters()).device
    with torch.inference_mode():
        reference = model.encode_text(torch.from_numpy(ids).to(device)).float().cpu().numpy()
    reference /= np.linalg.norm(reference, axis=1, keepdims=True)
    encoder = OnnxTextEncoder(folder, meta, threads=1)
    batch = encoder.embed_ids(ids)
    single = np.vstack([encoder.embed_ids(ids[i:i + 1]) for i in range(len(ids))])
    return float(min((batch * reference).sum(1).min(), (single * reference).sum(1).min()))
