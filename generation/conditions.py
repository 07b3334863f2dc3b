"""Conditions built from retrieved images: img2img inits, Canny edge maps (OpenCV), depth maps (transformers).

Every condition starts from the reference *fitted* to the output size (scaled to cover it, then
center-cropped), so an init image, a Canny map and a depth map of one reference line up pixel for pixel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .base import Condition, Reference

if TYPE_CHECKING:
    from PIL import Image

    from .loader import ModelLoader
    from .request import GenerationRequest


def fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scale ``image`` to cover width×height (Lanczos) and crop the center: no stretching, no borders."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    return ImageOps.fit(image.convert("RGB"), (width, height), method=PILImage.Resampling.LANCZOS)


def canny_map(image: Image.Image, low: int = 100, high: int = 200) -> Image.Image:
    """OpenCV Canny edges of an RGB image (as ControlNet's canny model was trained), white on black, 3 channels."""
    import cv2
    from PIL import Image as PILImage

    edges = cv2.Canny(np.asarray(image.convert("RGB")), low, high)
    return PILImage.fromarray(np.stack([edges] * 3, axis=-1))


class DepthEstimator:
    """Monocular depth with a transformers model (DPT, Depth-Anything ...) → a grey map, near = bright."""

    def __init__(self, model: Any, processor: Any, name: str) -> None:
        self.model = model
        self.processor = processor
        self.name = name

    @classmethod
    def load(cls, spec: str, loader: ModelLoader | None = None) -> DepthEstimator:
        from .loader import ModelLoader
        from .models import quiet_loading

        with quiet_loading():
            model, processor = (loader if loader is not None else ModelLoader()).depth(spec)
        return cls(model, processor, spec)

    def __call__(self, image: Image.Image) -> Image.Image:
        import torch
        from PIL import Image as PILImage

        inputs = self.processor(images=image.convert("RGB"), return_tensors="pt")
        with torch.inference_mode():
            depth = self.model(**inputs).predicted_depth  # (1, h, w): relative inverse depth
        depth = torch.nn.functional.interpolate(
            depth[:, None].float(), size=(image.height, image.width), mode="bicubic", align_corners=False
        )[0, 0].numpy()
        return PILImage.fromarray(_to_uint8(depth)).convert("RGB")


def _to_uint8(values: np.ndarray) -> np.ndarray:
    low, high = float(values.min()), float(values.max())
    if not np.isfinite(low) or not np.isfinite(high) or high - low < 1e-12:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - low) / (high - low) * 255.0).astype(np.uint8)


def control_builder(request: GenerationRequest,
                    loader: ModelLoader | None = None) -> Callable[[Image.Image], Image.Image]:
    """The function turning a fitted reference into the control map the request asks for."""
    if request.control == "canny":
        return lambda image: canny_map(image, request.control_low, request.control_high)
    if request.control == "depth":
        depth_model = request.depth_model_id
        assert depth_model is not None
        return DepthEstimator.load(depth_model, loader)
    raise ValueError(f"unknown control {request.control!r}; valid controls: canny, depth")


def build_conditions(request: GenerationRequest, references: Sequence[Reference],
                     loader: ModelLoader | None = None) -> list[Condition]:
    """One Condition per reference with the init and/or control map the request's mode uses (a depth model
    comes through ``loader``)."""
    if not (request.uses_init or request.uses_control):
        return []
    make_control = control_builder(request, loader) if request.uses_control else None
    conditions = []
    for reference in references:
        fitted = fit_image(reference.image, request.width, request.height)
        conditions.append(
            Condition(
                reference=reference,
                init=fitted if request.uses_init else None,
                control=make_control(fitted) if make_control else None,
                control_kind=request.control if make_control else None,
            )
        )
    return conditions
