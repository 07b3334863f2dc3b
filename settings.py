"""One settings object for a library, built at the edge (CLI, UI, ``Library(...)``) and passed down.

Sources, highest priority first: keyword arguments, ``MMRAG_*`` environment variables, the library's
``mmrag.toml``, defaults. Nested groups use ``__`` in the environment (``MMRAG_RAG__CHUNK_SIZE=200``).
"""

from __future__ import annotations

import difflib
import os
import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

from platformdirs import user_cache_dir, user_data_dir
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

SETTINGS_FILE = "mmrag.toml"
DEVICES = ("auto", "cpu", "cuda", "mps")
ENV_PREFIX = "MMRAG_"
# MMRAG_* variables that are not settings (read by the REST client and the tests): no unknown-variable warning.
OTHER_VARIABLES = ("MMRAG_API_KEY", "MMRAG_SERVER", "MMRAG_TEST_")


def default_library_path() -> Path:
    return Path(user_data_dir("mmrag")) / "library"


def default_cache_dir() -> Path:
    return Path(user_cache_dir("mmrag"))


def check_keys(model: type[BaseModel], data: Any, where: str = "") -> Any:
    """Reject keys ``model`` does not have, naming the key, its value and the valid keys (a typo is an error,
    not a silently ignored setting)."""
    if isinstance(data, dict):
        for key in data:
            if key not in model.model_fields:
                close = difflib.get_close_matches(str(key), list(model.model_fields), n=1)
                hint = f"; did you mean {where}{close[0]}?" if close else ";"
                raise ValueError(f"unknown setting {where}{key} (value {data[key]!r}){hint} valid settings"
                                 f"{' of ' + where.rstrip('.') if where else ''}: {', '.join(model.model_fields)}")
    return data


class _Group(BaseModel):
    """A nested settings group (``[ingest]``, ``[rag]`` ... in mmrag.toml): unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
    group: ClassVar[str] = ""

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        return check_keys(cls, data, f"{cls.group}.")


class IngestSettings(_Group):
    group: ClassVar[str] = "ingest"
    include: list[str] = Field(default_factory=list, description="Glob patterns a file must match (any).")
    exclude: list[str] = Field(default_factory=list, description="Glob patterns that skip a file or folder.")
    hidden: bool = Field(False, description="Also ingest hidden files and folders (names starting with '.').")
    follow_symlinks: bool = True
    follow_symlinks_outside: bool = Field(
        False,
        description="Follow symbolic links that lead outside the ingested folders (off: skipped, with the reason).",
    )
    max_image_pixels: int = Field(
        89_478_485, description="Pillow's decompression-bomb limit; larger images are skipped with a reason."
    )
    max_file_bytes: int = Field(512 * 1024 * 1024, description="Files larger than this are skipped.")
    commit_every: int = Field(64, ge=1, description="Assets per catalog transaction (a crash loses at most this).")
    save_index_every_s: float = Field(60.0, description="Also save the index during long ingests.")
    thumbnail_size: int = Field(256, ge=32)
    ocr: Literal["auto", "on", "off"] = Field(
        "off", description="Read text in images: auto = cheap detector first, recognise only where it finds text; "
        "off by default: on 2 CPU cores auto cut photo ingest to about 0.2x (docs/benchmarks.md, OCR)."
    )
    ocr_engine: str = Field("rapidocr", description="OCR engine by name (models.ocr_base registry).")
    engine: Literal["local", "ray"] = Field(
        "local", description="Where files are decoded and embedded: this process, or a Ray cluster (mmrag[ray])."
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to join with engine 'ray' (host:port or 'auto'); none: RAY_ADDRESS or local."
    )


class RagSettings(_Group):
    group: ClassVar[str] = "rag"
    text_model: str = Field("all-MiniLM-L6-v2", description="sentence-transformers model name, HF id or folder.")
    chunk_size: int = Field(200, ge=16, description="Tokens per chunk (kept under the embedder's max length).")
    chunk_overlap: int = Field(30, ge=0)
    mode: Literal["dense", "bm25", "hybrid"] = "hybrid"
    llm: str = Field("extractive", description="extractive | openai-like | llama-cpp")
    base_url: str | None = None
    api_key: str | None = None
    model: str | None = Field(None, description="Model name for the openai-like endpoint.")
    model_path: str | None = Field(None, description="GGUF file for llama-cpp.")
    max_tokens: int = 256
    temperature: float = 0.1
    top_k: int = Field(5, ge=1)
    sections: bool = Field(True, description="One passage per section, the section returned as its context.")


class GenerationSettings(_Group):
    group: ClassVar[str] = "generation"
    model: str = Field(
        "stable-diffusion-v1-5/stable-diffusion-v1-5", description="HF id, folder, .safetensors/.ckpt or tiny-test."
    )
    controlnet: str | None = None
    scheduler: str = "default"
    steps: int = Field(30, ge=1)
    guidance: float = 7.5
    strength: float = 0.6


class ServeSettings(_Group):
    group: ClassVar[str] = "serve"
    host: str = Field("127.0.0.1", description="Address `mmrag serve` binds; any other than loopback needs API keys.")
    port: int = Field(8765, ge=0, le=65535)
    ingest_roots: list[Path] = Field(
        default_factory=list, description="Folders the REST API may ingest (and their subfolders); none: no ingest."
    )
    max_upload_bytes: int = Field(20 * 1024 * 1024, ge=1, description="Largest uploaded query image (413 above).")
    max_upload_pixels: int = Field(40_000_000, ge=1, description="Most pixels an uploaded image may decode to.")


class Settings(BaseSettings):
    """Everything that configures a library. ``Settings.save()`` writes it to ``<library>/mmrag.toml`` (the
    first ingest does so). Unknown keys and bad values raise ValueError naming the key, the value and what is
    valid; an ``MMRAG_*`` environment variable that names no setting gets a warning."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True,
        validate_assignment=True,
    )

    library: Path = Field(default_factory=default_library_path)
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in the library (WAL).")
    clip_model: str = Field("ViT-B-32", description="open_clip name, 'local-dir:PATH', or 'tiny-test'.")
    clip_pretrained: str | None = Field("laion2b_s34b_b79k", description="open_clip tag or weights file.")
    device: str = Field("auto", description="auto | cpu | cuda | mps")
    batch_size: int = Field(32, ge=1)
    workers: int = Field(2, ge=0, description="Decode threads; 0 decodes in the main thread.")
    torch_threads: int = Field(
        0, ge=0, description="CPU threads of the models; 0 = auto: all cores but one for torch batches (one "
        "decodes images), all cores for a query's ONNX session."
    )
    text_runtime: Literal["auto", "onnx", "torch"] = Field(
        "auto", description="Text queries of both models (CLIP text search; text-model questions): auto/onnx = "
        "the library's checked ONNX export when present (written by the first query; no torch import), "
        "torch = always torch."
    )
    index_spec: str = Field("auto", description="auto, or a FAISS factory string such as 'IVF1024,Flat'.")
    index_memory_budget_mb: int = Field(4096, ge=16)
    use_gpu_index: bool = Field(True, description="Move FAISS indexes to the GPU when faiss sees one.")
    index_backend: Literal["faiss", "milvus"] = Field(
        "faiss", description="Vector engine: FAISS files in the library, or Milvus collections (mmrag[milvus])."
    )
    milvus_uri: str | None = Field(
        None, description="Milvus to use with index_backend 'milvus': a Milvus Lite file (default "
        "<library>/index/milvus.db) or a server URL such as http://host:19530."
    )
    lock_timeout: float = Field(0.0, ge=0, description="Seconds a writer waits for another writer to finish.")
    cache_dir: Path = Field(default_factory=default_cache_dir, description="Cache folder (tiny-test models).")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    rag: RagSettings = Field(default_factory=RagSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        return check_keys(cls, data)

    @field_validator("library", mode="before")
    @classmethod
    def _expand_library(cls, value: Any) -> Any:
        return Path(os.path.expanduser(str(value))).resolve() if value is not None else value

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str) -> str:
        if value not in DEVICES and not value.startswith("cuda:"):
            raise ValueError(f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {value!r}")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        warn_unknown_variables(settings_cls)
        toml = _library_toml(init_settings, env_settings)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    def override(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (nested groups merged key by key), validated like new settings."""
        return type(self).model_validate(_merge(self.model_dump(), changes))

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.library / 'catalog.sqlite'}"

    def save(self) -> Path:
        """Write these settings to the library's ``mmrag.toml``.

        Not stored: the library path itself, and secrets (a database URL with a password, API keys): give
        those through the environment (``MMRAG_DATABASE_URL``, ``MMRAG_RAG__API_KEY``).
        """
        import tomli_w
        from sqlalchemy.engine import make_url

        data = self.model_dump(mode="json", exclude={"library"}, exclude_none=True)
        if self.database_url and make_url(self.database_url).password:
            data.pop("database_url", None)
        data.get("rag", {}).pop("api_key", None)
        self.library.mkdir(parents=True, exist_ok=True)
        path = self.library / SETTINGS_FILE
        path.write_text(tomli_w.dumps(data), encoding="utf-8")
        return path


def _library_toml(init: PydanticBaseSettingsSource, env: PydanticBaseSettingsSource) -> Path | None:
    """Find the library folder before the other fields are read, so its TOML file can be a source."""
    library = init().get("library") or env().get("library") or default_library_path()
    path = Path(os.path.expanduser(str(library))) / SETTINGS_FILE
    return path if path.is_file() else None


def warn_unknown_variables(settings_cls: type[BaseSettings], environ: Any = None) -> list[str]:
    """Warn about ``MMRAG_*`` environment variables that name no setting (a typo would be ignored)."""
    environ = os.environ if environ is None else environ
    fields = {name.upper() for name in settings_cls.model_fields}
    unknown = [key for key in environ if key.upper().startswith(ENV_PREFIX)
               and not key.upper().startswith(OTHER_VARIABLES)
               and key.upper()[len(ENV_PREFIX):].split("__")[0] not in fields]
    for key in unknown:
        name = key.upper()[len(ENV_PREFIX):].split("__")[0].lower()
        close = difflib.get_close_matches(name, list(settings_cls.model_fields), n=1)
        hint = f" (did you mean {ENV_PREFIX}{close[0].upper()}?)" if close else ""
        warnings.warn(f"environment variable {key} names no mmrag setting and is ignored{hint}", stacklevel=4)
    return unknown


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, BaseModel):
            value = value.model_dump()
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            value = _merge(merged[key], value)
        merged[key] = value
    return merged
