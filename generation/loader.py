"""``ModelLoader``: loads the generation models of one library (pipeline, ControlNet, depth, LoRA).

One loader belongs to each library's :class:`~mmrag.components.GeneratorCache`: ``tiny-test`` models are
built under its ``cache_dir`` (the ``cache_dir`` setting, ``MMRAG_CACHE_DIR``), and ``loads`` counts what it
read from storage, by role, so a library (and its tests) can tell a reused model from a reloaded one.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from ..errors import ModelNotFoundError
from ..models.hub import hub_reachable
from .models import (
    ModelSource,
    check_model_spec,
    classify,
    load_from_hub,
    load_guarded,
    load_local,
    missing_message,
    single_file,
)


class ModelLoader:
    """Loads generation models; missing weights raise ModelNotFoundError naming the ways to provide them."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        if cache_dir is None:
            from ..settings import default_cache_dir

            cache_dir = default_cache_dir()
        self.cache_dir = Path(cache_dir)
        self.loads: Counter[str] = Counter()

    def source(self, spec: str, role: str, *, config: str | None = None) -> ModelSource:
        """Where ``spec`` is, checked; ``tiny-test`` as the folder of its tiny model (built on first use)."""
        source = check_model_spec(spec, role, config=config)
        if source.kind != "tiny":
            return source
        from .tiny import tiny_model_path

        return ModelSource("folder", str(tiny_model_path(role, self.cache_dir)))

    def pipeline(self, spec: str, *, dtype: Any, config: str | None = None) -> Any:
        """A StableDiffusionPipeline (the text-to-image base every other pipeline is made from by from_pipe)."""
        from diffusers import StableDiffusionPipeline

        source = self.source(spec, "pipeline", config=config)
        kwargs = {"dtype": dtype, "safety_checker": None, "requires_safety_checker": False}
        self.loads["pipeline"] += 1
        if source.kind == "folder":
            return load_local(StableDiffusionPipeline.from_pretrained, source.location, "pipeline", **kwargs)
        if source.kind == "file":
            config_location = None if config is None else self.source(config, "pipeline").location
            return single_file(StableDiffusionPipeline, source.location, config_location, **kwargs)
        return load_from_hub(StableDiffusionPipeline.from_pretrained, spec, "pipeline", **kwargs)

    def controlnet(self, spec: str, *, dtype: Any) -> Any:
        from diffusers import ControlNetModel

        source = self.source(spec, "controlnet")
        self.loads["controlnet"] += 1
        if source.kind == "folder":
            return load_local(ControlNetModel.from_pretrained, source.location, "controlnet", dtype=dtype)
        if source.kind == "file":
            return load_guarded(ControlNetModel.from_single_file, source.location, "controlnet", dtype=dtype,
                                local_files_only=not hub_reachable())
        return load_from_hub(ControlNetModel.from_pretrained, spec, "controlnet", dtype=dtype)

    def depth(self, spec: str) -> tuple[Any, Any]:
        """(AutoModelForDepthEstimation, AutoImageProcessor) from a folder, the HF cache or tiny-test."""
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation

        source = self.source(spec, "depth")
        self.loads["depth"] += 1
        if source.kind == "folder":
            model = load_local(AutoModelForDepthEstimation.from_pretrained, source.location, "depth")
            return model.eval(), load_local(AutoImageProcessor.from_pretrained, source.location, "depth")
        if source.kind == "file":
            raise ModelNotFoundError(missing_message(spec, "depth", "a depth model must be a folder or a hub id"))
        model = load_from_hub(AutoModelForDepthEstimation.from_pretrained, spec, "depth")
        return model.eval(), load_from_hub(AutoImageProcessor.from_pretrained, spec, "depth")

    def lora(self, pipe: Any, spec: str, scale: float) -> None:
        """Load LoRA weights into the pipeline's UNet/text encoder as adapter 'mmrag' at ``scale``."""
        source = check_model_spec(spec, "lora")
        self.loads["lora"] += 1
        load = lambda s, **kw: pipe.load_lora_weights(s, adapter_name="mmrag", **kw)  # noqa: E731
        if source.kind == "hub":
            load_from_hub(load, spec, "lora")
        else:
            load_guarded(load, source.location, "lora")
        pipe.set_adapters(["mmrag"], adapter_weights=[scale])


__all__ = ["ModelLoader", "classify"]
