"""Protocols and result types of retrieval-guided generation.

The data path: references (retrieved images) → conditions (init images, control maps) → a :class:`Generator`
(diffusers) → outputs → checks (CLIP scores) → provenance (PNG metadata + catalog rows + image index).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from PIL import Image

    from .request import GenerationRequest

ProgressCallback = Callable[[int, int], None]
"""Called after every denoising step with (steps done, steps in total) over the whole request."""


@dataclass
class Reference:
    """One retrieved (or given) image that guides generation."""

    image: Image.Image  # RGB, as decoded (not resized)
    asset_id: int | None = None  # catalog id when the image is a library asset
    path: str | None = None  # file it came from (None for an in-memory image until provenance saves it)
    score: float | None = None  # retrieval score when it came from a search

    @property
    def label(self) -> str:
        if self.asset_id is not None:
            return f"#{self.asset_id}"
        return Path(self.path).name if self.path else "<image>"


@dataclass
class Condition:
    """What a reference became for the pipeline: an init image and/or a control map, at the output size."""

    reference: Reference
    init: Image.Image | None = None
    control: Image.Image | None = None
    control_kind: str | None = None  # canny | depth
    init_path: str | None = None  # where provenance saved them (under <library>/generated/conditions/)
    control_path: str | None = None


@dataclass
class Job:
    """One pipeline call: the conditions it uses and the seeds of its images (one image per seed)."""

    conditions: list[Condition]
    seeds: list[int]

    @property
    def init(self) -> Image.Image | None:
        return self.conditions[0].init if self.conditions else None

    @property
    def controls(self) -> list[Image.Image]:
        return [c.control for c in self.conditions if c.control is not None]


@dataclass
class GeneratedImage:
    """One output image with its seed, the references it used and, once stored, its catalog ids."""

    image: Image.Image
    seed: int
    references: list[Reference]
    conditions: list[Condition]
    clip_score: float | None = None  # 100 × max(cosine(image, prompt), 0)
    ref_similarity: float | None = None  # mean cosine(image, reference) over its references
    path: str | None = None
    asset_id: int | None = None
    generation_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "asset_id": self.asset_id,
            "generation_id": self.generation_id,
            "seed": self.seed,
            "clip_score": self.clip_score,
            "ref_similarity": self.ref_similarity,
            "refs": [{"asset_id": r.asset_id, "path": r.path} for r in self.references],
            "conditions": [c.control_path or c.init_path for c in self.conditions],
        }


@dataclass
class GenerationResult:
    """Everything one ``generate`` call produced and how."""

    images: list[GeneratedImage]
    references: list[Reference]
    conditions: list[Condition]
    params: dict[str, Any]
    models: dict[str, str]
    seed: int  # the first seed; image i of the request used seed + i
    timings: dict[str, float] = field(default_factory=dict)  # seconds per stage

    @property
    def pil_images(self) -> list[Image.Image]:
        return [g.image for g in self.images]

    def to_dict(self) -> dict[str, Any]:
        return {
            "outputs": [g.to_dict() for g in self.images],
            "params": self.params,
            "models": self.models,
            "seed": self.seed,
            "timings": self.timings,
        }


@runtime_checkable
class Generator(Protocol):
    """Turns a validated request plus prepared conditions into images. Loads its models once."""

    @property
    def models(self) -> dict[str, str]:
        """Model ids/paths actually loaded (base, controlnet, lora ...), for provenance."""

    def run(self, request: GenerationRequest, job: Job, progress: ProgressCallback | None = None) -> list[Image.Image]:
        """One pipeline call; returns one image per seed of the job, reproducible from those seeds."""
