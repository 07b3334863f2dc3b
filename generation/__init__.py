"""Retrieval-guided generation: library images become img2img inits or ControlNet conditions for a diffusers
Stable Diffusion pipeline, and every output is stored with its provenance and indexed for search.

Light to import: torch/diffusers/transformers load only when a model is needed.
"""

from __future__ import annotations

from .base import Condition, GeneratedImage, GenerationResult, Generator, Reference
from .request import COMBINE, CONTROLS, MODES, GenerationRequest
from .schedulers import SCHEDULERS

__all__ = [
    "COMBINE",
    "CONTROLS",
    "MODES",
    "SCHEDULERS",
    "Condition",
    "GeneratedImage",
    "GenerationRequest",
    "GenerationResult",
    "Generator",
    "Reference",
]

