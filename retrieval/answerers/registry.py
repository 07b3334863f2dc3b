"""Pick an answerer by name: extractive (default, no LLM) | openai-like | llama-cpp."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from ...models.base import TextEmbedder
from ...settings import RagSettings
from .base import Answerer

if TYPE_CHECKING:
    from ...components import KeptModel

ANSWERERS = ("extractive", "openai-like", "llama-cpp")
SETTING_OPTIONS = ("base_url", "api_key", "model", "model_path", "max_tokens", "temperature")
EXTRA_OPTIONS = {"extractive": ("max_sentences", "min_relevance"), "openai-like": ("chat", "timeout"),
                 "llama-cpp": ("n_ctx", "n_threads")}


@dataclass(frozen=True)
class AnswererOptions:
    """Per-call overrides of the RAG settings (``None`` keeps the library's setting)."""

    base_url: str | None = None
    api_key: str | None = None
    model: str | None = None
    model_path: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None

    def overrides(self) -> dict[str, Any]:
        return {key: value for key, value in asdict(self).items() if value is not None}


def make_answerer(
    name: str,
    rag: RagSettings,
    *,
    embedder: Callable[[], TextEmbedder] | None = None,
    overrides: AnswererOptions | None = None,
    kept: KeptModel | None = None,
    **options: Any,
) -> Answerer:
    """Build the named answerer. ``options`` override ``rag`` settings (base_url, model, api_key, model_path,
    max_tokens, temperature; None means "keep the setting") or tune the answerer (see EXTRA_OPTIONS).
    ``embedder`` returns the library's text embedder (called only by the extractive answerer).
    ``overrides``: the same setting overrides as one typed object (what ``Library.ask`` passes).
    ``kept``: the library's slot that keeps a local model loaded between questions (llama-cpp)."""
    if overrides is not None:
        options = {**overrides.overrides(), **options}
    if name not in ANSWERERS:
        raise ValueError(f"unknown answerer {name!r}; valid answerers: {', '.join(ANSWERERS)}")
    valid = set(SETTING_OPTIONS) | set(EXTRA_OPTIONS[name])
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for answerer {name!r}; valid options: {sorted(valid)}")
    updates = {key: value for key, value in options.items() if key in SETTING_OPTIONS and value is not None}
    rag = rag.model_copy(update=updates) if updates else rag
    extra = {key: value for key, value in options.items() if key in EXTRA_OPTIONS[name] and value is not None}
    if name == "extractive":
        from .extractive import ExtractiveAnswerer

        if embedder is None:
            raise ValueError("the extractive answerer needs the library's text embedder")
        return ExtractiveAnswerer(embedder(), **extra)
    if name == "openai-like":
        from .openai_like import OpenAILikeAnswerer

        return OpenAILikeAnswerer(rag, **extra)
    from .llama_cpp import LlamaCppAnswerer

    return LlamaCppAnswerer(rag, kept=kept, **extra)
