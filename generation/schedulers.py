"""Schedulers by name. Each is built from the loaded pipeline's own scheduler config (betas, offsets ...)."""

from __future__ import annotations

from typing import Any

# name → (diffusers class name, extra config); "default" keeps the scheduler the model was saved with.
SCHEDULERS: dict[str, tuple[str | None, dict[str, Any]]] = {
    "default": (None, {}),
    "ddim": ("DDIMScheduler", {}),
    "pndm": ("PNDMScheduler", {"skip_prk_steps": True}),
    "euler": ("EulerDiscreteScheduler", {}),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}),
    "heun": ("HeunDiscreteScheduler", {}),
    "lms": ("LMSDiscreteScheduler", {}),
    "dpm++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}),
    "dpm++-karras": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True}),
    "dpm++-2s": ("DPMSolverSinglestepScheduler", {}),
    "unipc": ("UniPCMultistepScheduler", {}),
    "ddpm": ("DDPMScheduler", {}),
}
# Names written to the A1111-style ``parameters`` PNG chunk (its "Sampler:" field).
A1111_NAMES = {
    "ddim": "DDIM",
    "pndm": "PLMS",
    "euler": "Euler",
    "euler-a": "Euler a",
    "heun": "Heun",
    "lms": "LMS",
    "dpm++": "DPM++ 2M",
    "dpm++-karras": "DPM++ 2M Karras",
    "dpm++-2s": "DPM++ 2S",
    "unipc": "UniPC",
    "ddpm": "DDPM",
}


CLASS_LABELS = {
    "PNDMScheduler": "PLMS",
    "DDIMScheduler": "DDIM",
    "EulerDiscreteScheduler": "Euler",
    "EulerAncestralDiscreteScheduler": "Euler a",
    "LMSDiscreteScheduler": "LMS",
    "DPMSolverMultistepScheduler": "DPM++ 2M",
    "UniPCMultistepScheduler": "UniPC",
}


def check_scheduler(name: str) -> None:
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; valid schedulers: {', '.join(SCHEDULERS)}")


def make_scheduler(name: str, base_config: Any) -> Any | None:
    """A fresh scheduler for ``name`` from the model's scheduler config; None for 'default'."""
    import diffusers

    check_scheduler(name)
    class_name, extra = SCHEDULERS[name]
    if class_name is None:
        return None
    cls = getattr(diffusers, class_name)
    return cls.from_config(base_config, **extra)


def sampler_label(name: str, base_class: str) -> str:
    """A human name for the sampler actually used (the class name for 'default')."""
    return A1111_NAMES.get(name) or CLASS_LABELS.get(base_class, base_class)
