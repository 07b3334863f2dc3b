"""One settings object for a library, built at the edge (CLI, UI, ``Library(...)``) and passed down.

Sources, highest priority first: keyword arguments, ``MMRAG_*`` environment variables, the library's
``mmrag.toml``, defaults. Nested groups use ``__`` in the environment (``MMRAG_RAG__CHUNK_SIZE=200``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

SETTINGS_FILE = "mmrag.toml"
DEVICES = ("auto", "cpu", "cuda", "mps")


def default_library_path() -> Path:
    return Path(user_data_dir("mmrag")) / "library"


class IngestSettings(BaseModel):
    include: list[str] = Field(default_factory=list, description="Glob patterns a file must match (any).")
    exclude: list[str] = Field(default_factory=list, description="Glob patterns that skip a file or folder.")
    hidden: bool = Field(False, description="Also ingest hidden files and folders (names starting with '.').")
    follow_symlinks: bool = True
    max_image_pixels: int = Field(
        89_478_485, description="Pillow's decompression-bomb limit; larger images are skipped with a reason."
    )
    max_file_bytes: int = Field(512 * 1024 * 1024, description="Files larger than this are skipped.")
    commit_every: int = Field(64, ge=1, description="Assets per catalog transaction (a crash loses at most this).")
    save_index_every_s: float = Field(60.0, description="Also save the index during long ingests.")
    thumbnail_size: int = Field(256, ge=32)


class RagSettings(BaseModel):
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


class GenerationSettings(BaseModel):
    model: str = Field(
        "stable-diffusion-v1-5/stable-diffusion-v1-5", description="HF id, folder, .safetensors/.ckpt or tiny-test."
    )
    controlnet: str | None = None
    scheduler: str = "default"
    steps: int = Field(30, ge=1)
    guidance: float = 7.5
    strength: float = 0.6


class Settings(BaseSettings):
    """Everything that configures a library. Saved to ``<library>/mmrag.toml`` by ``Library.save_settings()``."""

    model_config = SettingsConfigDict(
        env_prefix="MMRAG_", env_nested_delimiter="__", extra="ignore", validate_default=True
    )

    library: Path = Field(default_factory=default_library_path)
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite in the library (WAL).")
    clip_model: str = Field("ViT-B-32", description="open_clip name, 'local-dir:PATH', or 'tiny-test'.")
    clip_pretrained: str | None = Field("laion2b_s34b_b79k", description="open_clip tag or weights file.")
    device: str = Field("auto", description="auto | cpu | cuda | mps")
    batch_size: int = Field(32, ge=1)
    workers: int = Field(2, ge=0, description="Decode threads; 0 decodes in the main thread.")
    torch_threads: int = Field(
        0, ge=0, description="torch threads on CPU; 0 = auto (all cores but one, which decodes images)."
    )
    index_spec: str = Field("auto", description="auto, or a FAISS factory string such as 'IVF1024,Flat'.")
    index_memory_budget_mb: int = Field(4096, ge=16)
    use_gpu_index: bool = Field(True, description="Move FAISS indexes to the GPU when faiss sees one.")
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    rag: RagSettings = Field(default_factory=RagSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)

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
        toml = _library_toml(init_settings, env_settings)
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

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
