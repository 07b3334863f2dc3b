"""Provenance inside the PNG itself: a JSON ``mmrag`` tEXt chunk and an AUTOMATIC1111-style ``parameters`` chunk.

The JSON chunk carries everything needed to reproduce the image (prompt, negative prompt, seed, parameters,
model ids, reference ids and paths); the ``parameters`` chunk lets other tools (A1111, ComfyUI, civitai
readers) show the prompt and settings.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL import Image

    from .base import Reference

METADATA_KEY = "mmrag"
A1111_KEY = "parameters"
FORMAT_VERSION = 1


def build_metadata(
    *,
    prompt: str,
    negative_prompt: str | None,
    mode: str,
    seed: int,
    params: dict[str, Any],
    models: dict[str, str],
    references: list[Reference],
) -> dict[str, Any]:
    return {
        "version": FORMAT_VERSION,
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "mode": mode,
        "seed": seed,
        "params": params,
        "models": models,
        "refs": [{"asset_id": r.asset_id, "path": r.path} for r in references],
    }


def a1111_parameters(metadata: dict[str, Any], sampler: str) -> str:
    """The ``parameters`` text A1111 writes: prompt, 'Negative prompt: ...', then 'Key: value, ...'."""
    params = metadata["params"]
    fields = {
        "Steps": params.get("steps"),
        "Sampler": sampler,
        "CFG scale": params.get("guidance"),
        "Seed": metadata["seed"],
        "Size": f"{params.get('width')}x{params.get('height')}",
        "Model": metadata["models"].get("model"),
        "Denoising strength": params.get("strength"),
        "ControlNet": metadata["models"].get("controlnet"),
        "Control": params.get("control"),
        "Lora": metadata["models"].get("lora"),
        "Lora scale": params.get("lora_scale"),
        "Mode": metadata["mode"],
    }
    text = metadata["prompt"]
    if metadata.get("negative_prompt"):
        text += f"\nNegative prompt: {metadata['negative_prompt']}"
    settings = ", ".join(f"{key}: {_a1111_value(value)}" for key, value in fields.items() if value is not None)
    return f"{text}\n{settings}"


def _a1111_value(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if ("," in text or ":" in text) else text


def save_png(image: Image.Image, path: Path, metadata: dict[str, Any] | None = None, sampler: str = "") -> Path:
    """Write ``image`` as PNG with the metadata chunks, atomically (temp file, fsync, rename)."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    if metadata is not None:
        info.add_text(METADATA_KEY, json.dumps(metadata, sort_keys=True), zip=False)  # ASCII: a tEXt chunk
        info.add_text(A1111_KEY, a1111_parameters(metadata, sampler))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".png", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            image.save(handle, format="PNG", pnginfo=info)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_png_metadata(path: str | Path) -> dict[str, Any]:
    """The ``mmrag`` JSON of a generated PNG ({} when it has none)."""
    from PIL import Image as PILImage

    with PILImage.open(path) as image:
        raw = getattr(image, "text", {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def read_png_parameters(path: str | Path) -> str | None:
    """The A1111-style ``parameters`` text of a PNG, if any."""
    from PIL import Image as PILImage

    with PILImage.open(path) as image:
        return getattr(image, "text", {}).get(A1111_KEY)
