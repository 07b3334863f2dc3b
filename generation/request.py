"""A generation request: the one definition of generation parameters and their validation, done before any
model is loaded or any reference is decoded.

The CLI, the UI, the REST service and ``Library.generate`` all build a :class:`GenerationRequest`; fields left
``None`` (steps, strength, guidance, model, controlnet, scheduler) take the library's ``[generation]``
settings when the request is validated, so each default is written once (in :mod:`mmrag.settings`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .models import TINY_TEST, check_model_spec, default_controlnet, default_depth_model
from .schedulers import check_scheduler

if TYPE_CHECKING:
    from ..settings import GenerationSettings

# mode → (needs references, uses an init image, uses a control map)
MODES: dict[str, tuple[bool, bool, bool]] = {
    "txt2img": (False, False, False),
    "img2img": (True, True, False),
    "controlnet": (True, False, True),
    "controlnet-img2img": (True, True, True),
}
CONTROLS = ("canny", "depth")
COMBINE = ("each", "multi")  # one output set per reference, or all references as one multi-ControlNet call
MAX_SIDE = 4096
DEFAULT_SIDE = 512  # Stable Diffusion 1.5's training size
TINY_SIDE = 64  # tiny-test is for smoke runs: 64×64 took 14 s on a 2-core CPU where 512×512 took 238 s


REFERENCE_ARGUMENTS = "refs, like, ref_ids or ref_images"  # how Library.generate takes references


def default_side(model: str) -> int:
    """Output width and height when the request names none: small for the tiny-test model."""
    return TINY_SIDE if model == TINY_TEST else DEFAULT_SIDE


def missing_references(mode: str, sources: str) -> str:
    """The error for a mode that needs references and got none; ``sources`` names how the caller gives them at
    its edge (Python arguments, CLI flags, JSON fields), so that it can type what the message says."""
    return f"mode {mode!r} needs at least one reference image, got none: give {sources}, or use mode 'txt2img'"


@dataclass
class GenerationRequest:
    """Every parameter of one ``generate`` call. Build it, :meth:`validate` it (which returns the request with
    the library's settings filled in), then hand the validated request on."""

    prompt: str
    mode: str = "img2img"
    control: str = "canny"
    n: int = 1  # images per reference (per call with combine="multi")
    seed: int | None = None
    steps: int | None = None  # None: settings.generation.steps (and so on for the fields below)
    strength: float | None = None
    guidance: float | None = None
    width: int | None = None  # None: DEFAULT_SIDE, or TINY_SIDE for the tiny-test model
    height: int | None = None
    negative_prompt: str | None = None
    model: str | None = None  # HF id, diffusers folder, .safetensors/.ckpt file or tiny-test
    model_config: str | None = None  # diffusers config folder/id for a single-file checkpoint
    controlnet: str | None = None
    lora: str | None = None
    lora_scale: float = 1.0
    scheduler: str | None = None
    control_low: int = 100
    control_high: int = 200
    control_scale: float = 1.0
    depth_model: str | None = None
    combine: str = "each"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def needs_refs(self) -> bool:
        return MODES[self.mode][0]

    @property
    def uses_init(self) -> bool:
        return MODES[self.mode][1]

    @property
    def uses_control(self) -> bool:
        return MODES[self.mode][2]

    @property
    def denoising_steps(self) -> int:
        """Steps the scheduler really runs: img2img modes skip the first (1 - strength) of them."""
        return int(self.steps * self.strength) if self.uses_init else self.steps

    @property
    def controlnet_model(self) -> str | None:
        if not self.uses_control:
            return None
        return self.controlnet or default_controlnet(self.model, self.control)

    @property
    def depth_model_id(self) -> str | None:
        if not (self.uses_control and self.control == "depth"):
            return None
        return self.depth_model or default_depth_model(self.model)

    def resolved(self, defaults: GenerationSettings | None = None) -> GenerationRequest:
        """A copy whose unset fields take ``defaults`` (the library's generation settings)."""
        from ..settings import GenerationSettings  # pydantic-settings: slow to import, and a CLI must start fast

        d = defaults if defaults is not None else GenerationSettings()
        return replace(
            self, steps=d.steps if self.steps is None else self.steps,
            strength=d.strength if self.strength is None else self.strength,
            guidance=d.guidance if self.guidance is None else self.guidance,
            model=self.model or d.model, controlnet=self.controlnet or d.controlnet,
            scheduler=self.scheduler or d.scheduler,
            width=self.width if self.width is not None else default_side(self.model or d.model),
            height=self.height if self.height is not None else default_side(self.model or d.model),
        )  # fmt: skip

    def validate(self, defaults: GenerationSettings | None = None) -> GenerationRequest:
        """The request with ``defaults`` filled in, after checking every parameter and that the model files
        exist; raises ValueError/ModelNotFoundError."""
        request = self.resolved(defaults)
        request._check_prompt()
        request._check_choices()
        request._check_numbers()
        request._check_size()
        request._check_models()
        return request

    def check_references(self, count: int, sources: str = REFERENCE_ARGUMENTS) -> None:
        """Called once references are resolved: modes that need references must have at least one. The CLI and
        REST check what they were given first, naming their own flags or fields (``sources``)."""
        if self.needs_refs and count == 0:
            raise ValueError(missing_references(self.mode, sources))

    def to_params(self) -> dict[str, Any]:
        """The parameters recorded with every output (prompt and seed are recorded separately)."""
        data = asdict(self)
        for key in ("prompt", "negative_prompt", "seed", "model", "model_config", "controlnet", "lora", "extra"):
            data.pop(key)
        if not self.uses_control:
            for key in ("control", "control_low", "control_high", "control_scale", "depth_model", "combine"):
                data.pop(key)
        elif self.control != "canny":
            data.pop("control_low")
            data.pop("control_high")
        if not self.uses_init:
            data.pop("strength")
        if self.lora is None:
            data.pop("lora_scale")
        if "depth_model" in data:
            data["depth_model"] = self.depth_model_id
            if data["depth_model"] is None:
                data.pop("depth_model")
        data["denoising_steps"] = self.denoising_steps
        data.update(self.extra)
        return data

    def _check_prompt(self) -> None:
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise ValueError(f"prompt must be a non-empty string, got {self.prompt!r}")

    def _check_choices(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}; valid modes: {', '.join(MODES)}")
        if self.uses_control and self.control not in CONTROLS:
            raise ValueError(f"unknown control {self.control!r}; valid controls: {', '.join(CONTROLS)}")
        if self.combine not in COMBINE:
            raise ValueError(f"unknown combine {self.combine!r}; valid: {', '.join(COMBINE)}")
        if self.combine == "multi" and not self.uses_control:
            raise ValueError(
                f"combine='multi' needs a ControlNet mode (controlnet, controlnet-img2img), got mode {self.mode!r}"
            )
        check_scheduler(self.scheduler)

    def _check_numbers(self) -> None:
        _check_int("steps", self.steps, minimum=1)
        _check_int("n", self.n, minimum=1)
        if self.seed is not None:
            _check_int("seed", self.seed, minimum=0)
            if self.seed >= 2**63 - 2**20:
                raise ValueError(f"seed must be below 2**63 - 2**20, got {self.seed}")
        if not 0.0 <= self.guidance <= 100.0:
            raise ValueError(f"guidance must be in [0, 100], got {self.guidance!r}")
        if self.uses_init:
            if not 0.0 < self.strength <= 1.0:
                raise ValueError(f"strength must be in (0, 1], got {self.strength!r}")
            if int(self.steps * self.strength) == 0:
                raise ValueError(
                    f"strength {self.strength!r} × steps {self.steps} gives int({self.steps * self.strength:g}) = 0 "
                    f"denoising steps; raise steps to at least {_min_steps(self.strength)} or raise strength"
                )
        if not 0.0 <= self.control_scale <= 10.0:
            raise ValueError(f"control_scale must be in [0, 10], got {self.control_scale!r}")
        if not -10.0 <= self.lora_scale <= 10.0:
            raise ValueError(f"lora_scale must be in [-10, 10], got {self.lora_scale!r}")
        if self.uses_control and self.control == "canny":
            _check_int("control_low", self.control_low, minimum=0)
            _check_int("control_high", self.control_high, minimum=0)
            if self.control_low > self.control_high:
                raise ValueError(
                    f"control_low ({self.control_low}) must not exceed control_high ({self.control_high})"
                )

    def _check_size(self) -> None:
        for name, value in (("width", self.width), ("height", self.height)):
            _check_int(name, value, minimum=8)
            if value % 8:
                raise ValueError(f"{name} must be a multiple of 8, got {value} (try {max(8, value // 8 * 8)})")
            if value > MAX_SIDE:
                raise ValueError(f"{name} must be at most {MAX_SIDE}, got {value}")

    def _check_models(self) -> None:
        check_model_spec(self.model, "pipeline", config=self.model_config)
        if self.controlnet_model is not None:
            check_model_spec(self.controlnet_model, "controlnet")
        if self.depth_model_id is not None:
            check_model_spec(self.depth_model_id, "depth")
        if self.lora is not None:
            check_model_spec(self.lora, "lora")


def _check_int(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {value}")


def _min_steps(strength: float) -> int:
    steps = max(1, math.ceil(1.0 / strength) - 1)
    while int(steps * strength) == 0:
        steps += 1
    return steps
