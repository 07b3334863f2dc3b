"""Finding and loading generation models: Hugging Face ids, local folders, single checkpoint files, tiny-test.

Nothing here waits on a download that cannot happen: a hub id is first looked up in the local cache, and the
hub is only tried when it answers a quick probe (never with HF_HUB_OFFLINE=1). Missing weights raise
:class:`~mmrag.errors.ModelNotFoundError` naming the model and the ways to provide it.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..errors import ModelNotFoundError
from ..models.hub import cached_file, hub_reachable, offline

TINY_TEST = "tiny-test"
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DEFAULT_CONTROLNETS = {
    "canny": "lllyasviel/control_v11p_sd15_canny",
    "depth": "lllyasviel/control_v11f1p_sd15_depth",
}
DEFAULT_DEPTH_MODEL = "depth-anything/Depth-Anything-V2-Small-hf"

# role → (what to call it, CLI option, file marking a folder of that kind)
ROLES = {
    "pipeline": ("Stable Diffusion model", "--model", "model_index.json"),
    "controlnet": ("ControlNet model", "--controlnet", "config.json"),
    "depth": ("depth model", "--depth-model", "config.json"),
    "lora": ("LoRA weights", "--lora", "pytorch_lora_weights.safetensors"),
}

T = TypeVar("T")


@dataclass(frozen=True)
class ModelSource:
    kind: str  # tiny | folder | file | hub
    location: str


def default_controlnet(model: str, control: str) -> str:
    return TINY_TEST if model == TINY_TEST else DEFAULT_CONTROLNETS.get(control, DEFAULT_CONTROLNETS["canny"])


def default_depth_model(model: str) -> str:
    return TINY_TEST if model == TINY_TEST else DEFAULT_DEPTH_MODEL


def resolve_device(device: str = "auto") -> tuple[str, Any]:
    """(device, dtype): CUDA runs in fp16; MPS and CPU in fp32."""
    import torch

    from ..models.clip import resolve_device as pick

    resolved = pick(device)
    return resolved, torch.float16 if resolved.startswith("cuda") else torch.float32


def classify(spec: str, role: str) -> ModelSource:
    """Where a model spec points; raises ModelNotFoundError for a path that does not exist."""
    if spec == TINY_TEST and role != "lora":
        return ModelSource("tiny", spec)
    path = Path(os.path.expanduser(spec))
    if path.is_dir():
        return ModelSource("folder", str(path.resolve()))
    if path.is_file():
        return ModelSource("file", str(path.resolve()))
    if _looks_like_path(spec) or not HUB_ID.match(spec):
        raise ModelNotFoundError(missing_message(spec, role, f"no such file or folder: {str(path)!r}"))
    return ModelSource("hub", spec)


def check_model_spec(spec: str, role: str, *, config: str | None = None) -> ModelSource:
    """Cheap checks done during validation: the path exists, a folder is of the right kind, a hub id is
    cached or the hub is reachable. Loads nothing."""
    source = classify(spec, role)
    marker = ROLES[role][2]
    if source.kind == "folder" and role != "lora" and not (Path(source.location) / marker).is_file():
        raise ModelNotFoundError(
            missing_message(spec, role, f"folder {source.location!r} has no {marker} (save one with save_pretrained)")
        )
    if source.kind == "hub" and not cached_file(spec, (marker,)) and not hub_reachable():
        reason = "not in the Hugging Face cache and " + (
            "HF_HUB_OFFLINE is set" if offline() else "the hub is unreachable"
        )
        raise ModelNotFoundError(missing_message(spec, role, reason))
    if source.kind == "file" and role == "pipeline" and config is not None:
        check_model_spec(config, "pipeline")
    if source.kind == "file" and role == "depth":
        raise ModelNotFoundError(missing_message(spec, role, "a depth model must be a folder or a hub id"))
    return source


def missing_message(spec: str, role: str, reason: str) -> str:
    what, option, marker = ROLES[role]
    ways = (
        f"a local folder ({option} ./models/name, holding {marker}; written by save_pretrained), "
        f"a single .safetensors/.ckpt file ({option} ./name.safetensors)"
        if role != "depth"
        else f"a local transformers folder ({option} ./models/depth, holding {marker})"
    )
    tiny = f" For a smoke run without weights use {option} {TINY_TEST} (random weights: noise)."
    tiny = "" if role == "lora" else tiny
    return (
        f"{what} {spec!r} not found: {reason}. Provide it as {ways}, or a Hugging Face id already in the HF cache "
        f"(download it where there is internet — hf download {spec if HUB_ID.match(spec) else 'ORG/NAME'} "
        f"— copy HF_HOME here, and set HF_HUB_OFFLINE=1).{tiny}"
    )


def load_local(load: Callable[..., T], location: str, role: str, **kwargs: Any) -> T:
    return load_guarded(load, location, role, local_files_only=True, **kwargs)


def load_from_hub(load: Callable[..., T], repo: str, role: str, **kwargs: Any) -> T:
    """Cache first; the network only when the hub answers a quick probe."""
    try:
        return load(repo, local_files_only=True, **kwargs)
    except OSError as exc:
        if not hub_reachable():
            reason = "not (fully) in the Hugging Face cache and " + (
                "HF_HUB_OFFLINE is set" if offline() else "the hub is unreachable"
            )
            raise ModelNotFoundError(missing_message(repo, role, reason)) from exc
    return load_guarded(load, repo, role, **kwargs)


def load_guarded(load: Callable[..., T], location: str, role: str, **kwargs: Any) -> T:
    """Run a loader, turning missing/corrupt-file errors into ModelNotFoundError."""
    try:
        return load(location, **kwargs)
    except (OSError, EnvironmentError) as exc:  # noqa: UP024 - transformers/diffusers raise EnvironmentError
        raise ModelNotFoundError(missing_message(location, role, f"could not be loaded ({exc})")) from exc


def single_file(cls: Any, path: str, config: str | None, **kwargs: Any) -> Any:
    """``from_single_file``: the diffusers config comes from ``config`` (a folder or hub id, resolved) or is
    inferred from the checkpoint's keys and then looked up in the HF cache."""
    reachable = hub_reachable()
    if config is None and not reachable:
        config = _inferred_config(path)
    try:
        return cls.from_single_file(path, config=config, local_files_only=not reachable, **kwargs)
    except (OSError, EnvironmentError) as exc:  # noqa: UP024
        raise ModelNotFoundError(
            missing_message(path, "pipeline", f"single-file checkpoint could not be loaded ({exc})")
            + " A single file needs its diffusers config: pass model_config (--model-config) as a diffusers folder."
        ) from exc


def _inferred_config(path: str) -> str:
    """The config repo diffusers infers for a checkpoint, which must be cached when the hub is unreachable."""
    from diffusers.loaders.single_file_utils import fetch_diffusers_config, load_single_file_checkpoint

    checkpoint = load_single_file_checkpoint(path, local_files_only=True)
    repo = fetch_diffusers_config(checkpoint)["pretrained_model_name_or_path"]
    if cached_file(repo, ("model_index.json",)) is None:
        raise ModelNotFoundError(
            f"single-file checkpoint {path!r} needs the diffusers config of {repo!r}, which is not in the Hugging "
            f"Face cache and the hub is unreachable; pass model_config (--model-config) as a local diffusers folder "
            f"of the same architecture (only its *.json configs and tokenizer are read)"
        )
    return repo


def _looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", "./", "../", "~", ".\\")) or spec.lower().endswith(SINGLE_FILE_SUFFIXES) or (
        os.sep != "/" and os.sep in spec
    )


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide diffusers/transformers info chatter and progress bars while models load (errors still show)."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog

    levels = dlog.get_verbosity(), tlog.get_verbosity()
    bars = dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled()
    dlog.set_verbosity_error()
    tlog.set_verbosity_error()
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        dlog.set_verbosity(levels[0])
        tlog.set_verbosity(levels[1])
        if bars[0]:
            dlog.enable_progress_bar()
        if bars[1]:
            tlog.enable_progress_bar()
