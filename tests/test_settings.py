"""Settings: keyword > environment > the library's mmrag.toml > defaults."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from mmrag.settings import Settings


def test_sources_in_priority_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    library = tmp_path / "lib"
    Settings(library=library, clip_model="from-toml", batch_size=7, ingest={"exclude": ["raw"]}).save()
    loaded = Settings(library=library)
    assert (loaded.clip_model, loaded.batch_size, loaded.ingest.exclude) == ("from-toml", 7, ["raw"])
    monkeypatch.setenv("MMRAG_CLIP_MODEL", "from-env")
    monkeypatch.setenv("MMRAG_INGEST__HIDDEN", "true")
    from_env = Settings(library=library)
    assert from_env.clip_model == "from-env" and from_env.ingest.hidden and from_env.ingest.exclude == ["raw"]
    assert Settings(library=library, clip_model="from-kwarg").clip_model == "from-kwarg"


def test_library_from_environment_finds_its_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Settings(library=tmp_path / "lib", clip_model="tiny-test").save()
    monkeypatch.setenv("MMRAG_LIBRARY", str(tmp_path / "lib"))
    assert Settings().clip_model == "tiny-test"


def test_defaults_and_database_url(tmp_path: Path) -> None:
    settings = Settings(library=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{tmp_path}/catalog.sqlite"
    assert settings.clip_model == "ViT-B-32" and settings.clip_pretrained == "laion2b_s34b_b79k"
    assert Settings(library=tmp_path, database_url="postgresql+psycopg://x@h/db").resolved_database_url.startswith(
        "postgresql")


@pytest.mark.parametrize(("field", "value", "message"), [
    ("device", "tpu", "device must be one of"),
    ("batch_size", 0, "greater than or equal to 1"),
])
def test_bad_values_name_the_field(tmp_path: Path, field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(library=tmp_path, **{field: value})


def test_secrets_are_not_written_to_the_library(tmp_path: Path) -> None:
    path = Settings(library=tmp_path, database_url="postgresql+psycopg://u:secret@h/db",
                    rag={"api_key": "sk-123"}).save()
    text = path.read_text()
    assert "secret" not in text and "sk-123" not in text
    kept = Settings(library=tmp_path / "b", database_url="postgresql+psycopg://u@h/db").save().read_text()
    assert "postgresql+psycopg://u@h/db" in kept
