"""open_clip image/text embedder: fp16 on CUDA, fp32 elsewhere, batched, L2-normalised outputs.

Model names:
- an open_clip architecture (``ViT-B-32``) with a pretrained tag (``laion2b_s34b_b79k``), a weights file, or
  ``none`` (random weights, for speed benchmarks only);
- ``local-dir:/path`` (a folder with ``open_clip_config.json`` and weights), or ``hf-hub:org/name``;
- ``tiny-test``: a tiny configuration with seeded random weights. It runs the whole pipeline offline in
  tests and smoke runs; its vectors are NOT semantic.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelNotFoundError
from .clip_text import short_text_tower
from .hub import cached_file, hub_reachable, offline
from .onnx_text import MIN_COSINE

if TYPE_CHECKING:
    from PIL import Image

TINY_TEST = "tiny-test"
RANDOM_WEIGHTS = ("", "none", "random")
CONFIG_DIR = Path(__file__).parent / "model_configs"


def resolve_device(device: str) -> str:
    """'auto' → cuda, then mps, then cpu; anything else is checked to exist."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but torch sees no CUDA device; use 'auto' or 'cpu'")
    return device


def configure_torch_threads(threads: int, device: str) -> int:
    """Set torch's CPU threads: ``threads``, or with 0 all cores but one, which is left to image decoding.

    Measured here (bench/bench_ingest.py, 2 cores): ViT-B-32 embeds faster on one thread than on two, and
    ingest then overlaps decoding on the other core (docs/benchmarks.md, P1).
    """
    import torch

    if resolve_device(device) != "cpu":
        return torch.get_num_threads()
    count = threads or max(1, (os.cpu_count() or 2) - 1)
    torch.set_num_threads(count)
    return count


def clip_fingerprint(name: str, pretrained: str | None) -> str:
    """The identity of a CLIP configuration, known without loading it (checked when a library opens)."""
    if name == TINY_TEST:
        return f"open_clip:{TINY_TEST}:{_tiny_weights(pretrained) or 'seed0'}"
    tag = "none" if (pretrained or "").lower() in RANDOM_WEIGHTS else pretrained
    return f"open_clip:{name}:{tag}"


def clip_settings_of(fingerprint: str) -> tuple[str, str | None] | None:
    """The (clip_model, clip_pretrained) settings whose fingerprint is ``fingerprint``; None if it cannot be
    told (a library then keeps needing the model named explicitly)."""
    if not fingerprint.startswith("open_clip:"):
        return None
    name, _, tag = fingerprint.removeprefix("open_clip:").rpartition(":")
    pretrained = None if tag in ("none", "seed0") else tag
    return (name, pretrained) if name and clip_fingerprint(name, pretrained) == fingerprint else None


class OpenClipEmbedder:
    """CLIP through open_clip. Build with :meth:`load`."""

    def __init__(self, model: Any, preprocess: Any, tokenizer: Any, name: str, pretrained: str | None, device: str):
        import torch

        self.model = model.eval()
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self.name = name
        self.pretrained = pretrained
        self.device = device
        self.dtype = torch.float16 if device.startswith("cuda") else torch.float32
        self.model.to(device=device, dtype=self.dtype)
        self.dim = int(_embed_dim(model))
        self.image_size = _image_size(preprocess)
        self._short_text = short_text_tower(self.model)  # None: the tower needs all positions
        self.export_library: Path | None = None  # set by clip_runtime.load_clip: export the text tower there
        self._pil_steps, self._mean, self._std = _split_preprocess(preprocess)

    @classmethod
    def load(cls, name: str, pretrained: str | None = None, device: str = "auto") -> OpenClipEmbedder:
        import open_clip

        device = resolve_device(device)
        if name == TINY_TEST:
            open_clip.add_model_config(CONFIG_DIR / f"{TINY_TEST}.json")
            if _tiny_weights(pretrained) is None:
                return cls._tiny(device)
        tag = None if (pretrained or "").lower() in RANDOM_WEIGHTS else pretrained
        source = _local_weights(name, tag)
        try:
            model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=source, device="cpu")
            tokenizer = open_clip.get_tokenizer(name)
        except Exception as exc:  # open_clip raises RuntimeError/OSError/HF errors for missing weights
            raise _missing_weights(name, tag, exc) from exc
        return cls(model, preprocess, tokenizer, name, tag or "none", device)

    @classmethod
    def _tiny(cls, device: str) -> OpenClipEmbedder:
        import open_clip
        import torch

        with torch.random.fork_rng(devices=[]), _quiet_root_logger():
            torch.manual_seed(0)  # same random weights in every process: vectors stay comparable
            model, _, preprocess = open_clip.create_model_and_transforms(TINY_TEST, pretrained=None, device="cpu")
        return cls(model, preprocess, open_clip.get_tokenizer(TINY_TEST), TINY_TEST, "seed0", device)

    @property
    def fingerprint(self) -> str:
        return clip_fingerprint(self.name, self.pretrained)

    def preprocess(self, image: Image.Image) -> Any:
        """open_clip's transform, with the tensor half done in numpy.

        torch elementwise ops on small tensors are slow in decode threads (they contend with the model's
        OpenMP pool); numpy gives the same values (checked in tests) at a fraction of the cost.
        """
        import torch

        if self._mean is None:
            return self._preprocess(image)
        for step in self._pil_steps:
            image = step(image)
        array = np.asarray(image, dtype=np.float32).transpose(2, 0, 1) * np.float32(1 / 255)
        return torch.from_numpy(np.ascontiguousarray((array - self._mean) / self._std))

    def embed_preprocessed(self, batch: Sequence[Any]) -> np.ndarray:
        import torch

        if not len(batch):
            return np.zeros((0, self.dim), dtype=np.float32)
        pixels = torch.stack(list(batch)).to(self.device, dtype=self.dtype)
        with torch.inference_mode():
            features = self.model.encode_image(pixels)
        return _normalise(features)

    def embed_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        return self.embed_preprocessed([self.preprocess(image.convert("RGB")) for image in images])

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not len(texts):
            return np.zeros((0, self.dim), dtype=np.float32)
        tokens = self._tokenizer(list(texts)).to(self.device)
        with torch.inference_mode():
            if self._short_text is None:
                features = self.model.encode_text(tokens)
            else:
                features = self._short_text(self._short_text.trim(tokens))
        if self.export_library is not None:
            library, self.export_library = self.export_library, None
            self.export_text_onnx(library)
        return _normalise(features)

    def export_text_onnx(self, library: Path) -> bool:
        """Export the text tower to ``library`` for :class:`OnnxTextClip` (once; False where it cannot)."""
        from .onnx_text import export_folder, read_meta, weights_stamp

        if self.device != "cpu" or importlib.util.find_spec("onnx") is None:
            return False  # exported from the fp32 CPU model only; `onnx` is needed to write the file
        earlier = read_meta(export_folder(library, self.fingerprint))
        if earlier is not None and earlier.weights_stamp == weights_stamp(self.pretrained):
            return False  # exported before and found inexact: torch stays
        from .onnx_export import export_text_tower, exportable

        if not exportable(self.model, self._tokenizer):
            return False
        try:
            meta = export_text_tower(self.model, self._tokenizer, library, self.fingerprint, self.pretrained)
        except OSError as exc:  # a read-only library: keep using torch
            logging.getLogger(__name__).warning("could not export the text tower to %s: %s", library, exc)
            return False
        return meta.min_cosine >= MIN_COSINE


def _tiny_weights(pretrained: str | None) -> str | None:
    """tiny-test takes saved weights from a file; any other value means the seeded random weights."""
    return pretrained if pretrained and os.path.isfile(pretrained) else None


def _local_weights(name: str, tag: str | None) -> str | None:
    """Resolve a hub tag to a cached file; fail fast when it is neither cached nor downloadable."""
    import open_clip

    if tag is None or os.path.exists(tag) or name.startswith(("local-dir:", "hf-hub:")):
        return tag
    config = open_clip.get_pretrained_cfg(name, tag)
    if not config:
        return tag  # open_clip reports the unknown tag with its list of valid ones
    repo = config.get("hf_hub")
    if repo:
        path = cached_file(repo, ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"))
        if path:
            return path
    if not hub_reachable():
        raise _missing_weights(name, tag, RuntimeError("not in the local cache and the model hub is unreachable"))
    return tag


@contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """open_clip warns on the root logger that tiny-test has no pretrained weights: that is the point of it."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def _split_preprocess(preprocess: Any) -> tuple[list[Any], np.ndarray | None, np.ndarray | None]:
    """Split a Compose into its PIL steps and the final ToTensor + Normalize (when it has that shape)."""
    steps = list(getattr(preprocess, "transforms", []))
    names = [type(step).__name__ for step in steps]
    if len(steps) < 2 or names[-1] != "Normalize" or names[-2] not in ("ToTensor", "MaybeToTensor"):
        return steps, None, None
    normalize = steps[-1]
    mean = np.asarray(normalize.mean, dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(normalize.std, dtype=np.float32).reshape(3, 1, 1)
    return steps[:-2], mean, std


def _normalise(features: Any) -> np.ndarray:
    array = features.float().cpu().numpy()
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    return (array / np.maximum(norms, 1e-12)).astype(np.float32)


def _embed_dim(model: Any) -> int:
    projection = getattr(model, "text_projection", None)
    if projection is not None and hasattr(projection, "shape"):
        return int(projection.shape[-1])
    return int(model.visual.output_dim)


def _image_size(preprocess: Any) -> int:
    for transform in getattr(preprocess, "transforms", []):
        size = getattr(transform, "size", None)
        if size:
            return int(size if isinstance(size, int) else size[0])
    return 224


def _missing_weights(name: str, pretrained: str | None, exc: Exception) -> ModelNotFoundError:
    return ModelNotFoundError(
        f"could not load CLIP model {name!r} with pretrained={pretrained!r}: {exc}. "
        "Provide the weights one of these ways: a weights file (--clip-pretrained /path/open_clip_model.safetensors), "
        "a folder (--clip-model local-dir:/path/with/open_clip_config.json), or the Hugging Face cache "
        f"(HF_HOME; copy it from a machine with internet){' — HF_HUB_OFFLINE=1 is set' if offline() else ''}. "
        f"For offline smoke runs use MMRAG_CLIP_MODEL={TINY_TEST} (random weights, not semantic)."
    )
