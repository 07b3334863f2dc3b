"""Optional dependencies: which extra installs which module, and one clear error when one is missing.

The core install searches and answers; the rest comes with extras (see pyproject.toml). Code that needs an
optional module imports it through :func:`optional_import`, which names the extra to install instead of
raising a bare ``ModuleNotFoundError``; the CLI turns that error into one line.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependencyError

# top-level module -> (the extra that installs it, what needs it, an alternative). FAISS comes from one of two.
OPTIONAL_MODULES: dict[str, tuple[str, str, str]] = {
    "faiss": ("cpu", "the vector index (FAISS)", "or 'mmrag[gpu]' on a CUDA machine"),
    "diffusers": ("generation", "image generation", ""),
    "peft": ("generation", "LoRA weights for generation", ""),
    "accelerate": ("generation", "image generation", ""),
    "cv2": ("generation", "ControlNet conditions (OpenCV)", ""),
    "streamlit": ("ui", "the web app", ""),
    "fastapi": ("serve", "the REST service (mmrag serve)", ""),
    "uvicorn": ("serve", "the REST service (mmrag serve)", ""),
    "multipart": ("serve", "uploads to the REST service", ""),
    "prometheus_client": ("serve", "the REST service's metrics", ""),
    "ray": ("ray", "distributed ingest on a Ray cluster (--engine ray)", ""),
    "pymilvus": ("milvus", "the Milvus vector backend (index_backend = 'milvus')", ""),
    "milvus_lite": ("milvus", "a local Milvus Lite file as milvus_uri", "or point milvus_uri at a Milvus server"),
    "llama_cpp": ("llama-cpp", "the llama-cpp answerer", "it builds from source, ~10 minutes on a small machine"),
}


def install_hint(module: str) -> str | None:
    """``pip install 'mmrag[extra]'`` for an optional module (None when the module is not optional)."""
    entry = OPTIONAL_MODULES.get(module.split(".")[0])
    return f"pip install 'mmrag[{entry[0]}]'" if entry else None


def missing(module: str) -> MissingDependencyError:
    """The error for an optional module that is not installed: what needs it and the extra to install."""
    top = module.split(".")[0]
    extra, purpose, note = OPTIONAL_MODULES[top]
    return MissingDependencyError(
        f"{purpose} needs the Python module '{top}', which is not installed: pip install 'mmrag[{extra}]' "
        f"({note + '; ' if note else ''}in a source checkout: pip install -e '.[{extra}]')"
    )


def optional_import(module: str) -> ModuleType:
    """Import an optional module, or raise MissingDependencyError naming the extra that installs it."""
    if module.split(".")[0] not in OPTIONAL_MODULES:
        raise ValueError(f"{module!r} is not an optional dependency; optional: {sorted(OPTIONAL_MODULES)}")
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != module.split(".")[0]:
            raise  # the module is there but one of its own imports is broken: show the real cause
        raise missing(module) from exc


def from_missing_module(exc: ModuleNotFoundError) -> MissingDependencyError | None:
    """The clear error for a ModuleNotFoundError of an optional module (None for any other module)."""
    name = (exc.name or "").split(".")[0]
    return missing(name) if name in OPTIONAL_MODULES else None
