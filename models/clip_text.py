"""The CLIP text tower run on the real tokens only (exact), for every open_clip tower where that is exact.

open_clip's standard text tower is causal (each position attends only to itself and earlier ones) and pools
at the end-of-text token (``argmax`` of the ids: EOT has the highest id; or ``eos``: the first EOT id). The
pooled vector therefore never depends on the padding after the EOT: running the tower on the first
``longest EOT + 1`` positions, with the positional embedding and the causal mask sliced to that length,
gives the same vector as the 77-position forward for a fraction of the work.

Towers without that property (no causal mask, a class token, a padding mask, another pooling, Hugging Face
text towers) get ``None`` from :func:`short_text_tower`, and callers use the model's own ``encode_text``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

EXACT_POOLS = ("argmax", "eos")


def text_parts(model: Any) -> Any | None:
    """The module holding the text tower's parts (the CLIP itself, or its ``.text`` TextTransformer) when
    trimming is exact for it, else None. Checked on the config the model was built with."""
    holder = model if hasattr(model, "token_embedding") else getattr(model, "text", None)
    if holder is None or not all(hasattr(holder, a) for a in ("token_embedding", "positional_embedding",
                                                                 "transformer", "ln_final", "attn_mask")):
        return None  # e.g. a Hugging Face text tower
    pool = getattr(holder, "text_pool_type", None) or getattr(holder, "pool_type", None)
    if holder.attn_mask is None or pool not in EXACT_POOLS:
        return None  # bidirectional attention or a pooling that sees every position
    if getattr(holder, "cls_emb", None) is not None or getattr(holder, "use_pad_mask", False):
        return None  # CoCa's appended class token and padding masks depend on the padded length
    return holder


def pool_type(parts: Any) -> str:
    return getattr(parts, "text_pool_type", None) or parts.pool_type


def eos_id(parts: Any) -> int | None:
    return getattr(parts, "text_eos_id", None) if hasattr(parts, "text_pool_type") else getattr(parts, "eos_id", None)


def used_length(ids: np.ndarray, pool: str, eos: int | None) -> int:
    """Positions the pooled vectors depend on: the last pooling position in the batch + 1."""
    if ids.ndim != 2 or ids.shape[1] == 0:
        raise ValueError(f"token ids must be a non-empty 2-d array, got shape {ids.shape}")
    if pool == "eos" and eos is not None:
        hits = ids == eos
        where = np.where(hits.any(axis=1), hits.argmax(axis=1), ids.shape[1] - 1)
    else:
        where = ids.argmax(axis=1)
    return int(where.max()) + 1


class ShortTextTower:
    """``encode_text`` on trimmed ids, sharing the model's own modules (no copy, the same arithmetic)."""

    def __init__(self, parts: Any) -> None:
        self.parts = parts
        self.pool = pool_type(parts)
        self.eos = eos_id(parts)

    def trim(self, ids: torch.Tensor) -> torch.Tensor:
        return ids[:, : used_length(ids.cpu().numpy(), self.pool, self.eos)]

    def __call__(self, ids: torch.Tensor) -> torch.Tensor:
        """Projected (not normalised) features of already trimmed ids, as ``encode_text`` computes them."""
        import torch
        from open_clip.transformer import text_global_pool

        p = self.parts
        length = ids.shape[1]
        cast = p.transformer.get_cast_dtype()
        x = p.token_embedding(ids).to(cast) + p.positional_embedding[:length].to(cast)
        x = p.transformer(x, attn_mask=p.attn_mask[:length, :length])
        x = p.ln_final(x)
        x = text_global_pool(x, ids, self.pool, eos_token_id=self.eos)
        projection = p.text_projection
        if projection is None:
            return x
        return projection(x) if isinstance(projection, torch.nn.Linear) else x @ projection


def short_text_tower(model: Any) -> ShortTextTower | None:
    """A :class:`ShortTextTower` over ``model``'s text tower, or None where trimming would not be exact."""
    parts = text_parts(model)
    return None if parts is None else ShortTextTower(parts)
