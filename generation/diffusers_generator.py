"""The diffusers implementation of :class:`~mmrag.generation.base.Generator`.

One StableDiffusionPipeline is loaded (HF id, folder, single file or tiny-test); the img2img, ControlNet and
ControlNet-img2img pipelines are made from it with ``from_pipe``, so all of them share the same weights in
memory. LoRA weights are loaded once as the adapter "mmrag" and weighted per call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import GenerationError
from .base import Job, ProgressCallback
from .loader import ModelLoader
from .models import quiet_loading, resolve_device
from .schedulers import make_scheduler, sampler_label

if TYPE_CHECKING:
    from PIL import Image

    from .request import GenerationRequest

PIPELINE_CLASSES = {
    "txt2img": "StableDiffusionPipeline",
    "img2img": "StableDiffusionImg2ImgPipeline",
    "controlnet": "StableDiffusionControlNetPipeline",
    "controlnet-img2img": "StableDiffusionControlNetImg2ImgPipeline",
}


class DiffusersGenerator:
    """Stable Diffusion (1.x/2.x architecture) with optional ControlNet and LoRA. Build with :meth:`load`."""

    def __init__(self, base: Any, *, controlnet: Any | None, device: str, dtype: Any, models: dict[str, str],
                 loader: ModelLoader) -> None:
        self.base = base
        self.loader = loader
        self.controlnet = controlnet
        self.device = device
        self.dtype = dtype
        self._models = models
        self._pipes: dict[tuple[str, int], Any] = {("txt2img", 0): base}
        self.default_scheduler = base.scheduler  # the model's own; each call gets a fresh copy or a named one
        self.last_call: dict[str, Any] = {}  # the inputs of the latest pipeline call (for inspection and tests)

    @classmethod
    def load(cls, request: GenerationRequest, device: str = "auto",
             loader: ModelLoader | None = None) -> DiffusersGenerator:
        """Load the models a (validated) request needs through ``loader`` (default: a fresh one)."""
        loader = loader if loader is not None else ModelLoader()
        device, dtype = resolve_device(device)
        with quiet_loading():
            base = loader.pipeline(request.model, dtype=dtype, config=request.model_config)
            if request.lora is not None:
                loader.lora(base, request.lora, request.lora_scale)
            base.to(device)
        base.set_progress_bar_config(disable=True)
        models = {"model": request.model, "scheduler": type(base.scheduler).__name__}
        if request.model_config:
            models["model_config"] = request.model_config
        if request.lora:
            models["lora"] = request.lora
        generator = cls(base, controlnet=None, device=device, dtype=dtype, models=models, loader=loader)
        generator.use_controlnet(request.controlnet_model)
        return generator

    @staticmethod
    def cache_key(request: GenerationRequest, device: str) -> tuple[Any, ...]:
        """Requests with equal keys can share one loaded generator (a ControlNet is swapped in as needed)."""
        return (request.model, request.model_config, request.lora, device)

    def use_controlnet(self, spec: str | None) -> None:
        """Load the ControlNet ``spec`` unless it is the one loaded; the base pipeline stays as it is."""
        if spec is None or spec == self._models.get("controlnet"):
            return
        with quiet_loading():
            self.controlnet = self.loader.controlnet(spec, dtype=self.dtype).to(self.device)
        self._models["controlnet"] = spec
        self._pipes = {key: pipe for key, pipe in self._pipes.items() if not key[0].startswith("controlnet")}

    @property
    def models(self) -> dict[str, str]:
        return dict(self._models)

    def pipeline(self, mode: str, n_controls: int = 1) -> Any:
        """The pipeline for a mode, made once from the base with ``from_pipe`` (shared weights)."""
        import diffusers

        key = (mode, n_controls if mode.startswith("controlnet") else 0)
        if key not in self._pipes:
            kwargs: dict[str, Any] = {}
            if mode.startswith("controlnet"):
                if self.controlnet is None:
                    raise GenerationError(f"mode {mode!r} needs a ControlNet, but none was loaded")
                kwargs["controlnet"] = self.controlnet if n_controls == 1 else [self.controlnet] * n_controls
            with quiet_loading():
                pipe = getattr(diffusers, PIPELINE_CLASSES[mode]).from_pipe(self.base, **kwargs)
            pipe.set_progress_bar_config(disable=True)
            self._pipes[key] = pipe
        return self._pipes[key]

    def sampler(self, name: str) -> str:
        return sampler_label(name, type(self.default_scheduler).__name__)

    def run(self, request: GenerationRequest, job: Job, progress: ProgressCallback | None = None) -> list[Image.Image]:
        """One pipeline call: ``len(job.seeds)`` images, image i drawn from a CPU generator seeded job.seeds[i]."""
        import torch

        pipe = self.pipeline(request.mode, max(1, len(job.controls)))
        default = self.default_scheduler
        scheduler = make_scheduler(request.scheduler, default.config)
        pipe.scheduler = scheduler or type(default).from_config(default.config)
        if request.lora is not None:
            pipe.set_adapters(["mmrag"], adapter_weights=[request.lora_scale])
        inputs = self._inputs(request, job)
        self.last_call = dict(inputs)
        try:
            with torch.inference_mode():
                output = pipe(
                    prompt=request.prompt,
                    negative_prompt=request.negative_prompt,
                    num_inference_steps=request.steps,
                    guidance_scale=request.guidance,
                    num_images_per_prompt=len(job.seeds),
                    generator=[torch.Generator("cpu").manual_seed(seed) for seed in job.seeds],
                    callback_on_step_end=_step_callback(progress),
                    output_type="pil",
                    **inputs,
                )
        except torch.OutOfMemoryError as exc:
            raise GenerationError(
                f"out of memory generating {len(job.seeds)} image(s) at {request.width}×{request.height} on "
                f"{self.device}: lower n, the size, or use a smaller model ({exc})"
            ) from exc
        return list(output.images)

    def _inputs(self, request: GenerationRequest, job: Job) -> dict[str, Any]:
        """The mode-specific arguments of the pipeline call."""
        inputs: dict[str, Any] = {}
        controls = job.controls
        control: Any = controls[0] if len(controls) == 1 else controls
        if request.mode in ("txt2img", "controlnet", "controlnet-img2img"):
            inputs.update(width=request.width, height=request.height)
        if request.uses_init:
            inputs.update(image=job.init, strength=request.strength)
        if request.mode == "controlnet":
            inputs["image"] = control
        if request.mode == "controlnet-img2img":
            inputs["control_image"] = control
        if request.uses_control:
            scale = request.control_scale
            inputs["controlnet_conditioning_scale"] = scale if len(controls) == 1 else [scale] * len(controls)
        return inputs


def _step_callback(progress: ProgressCallback | None) -> Any:
    if progress is None:
        return None

    def on_step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> dict[str, Any]:
        progress(step + 1, int(getattr(pipe, "num_timesteps", 0) or step + 1))
        return tensors

    return on_step_end
