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


def test_unknown_keys_are_errors_that_name_key_value_and_choices(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"unknown setting devcie \(value 'cuda'\); did you mean device\?"):
        Settings(library=tmp_path, devcie="cuda")
    with pytest.raises(ValueError, match=r"unknown setting rag\.chunk_sise \(value 100\); did you mean "
                                         r"rag\.chunk_size\?.*of rag: .*top_k"):
        Settings(library=tmp_path, rag={"chunk_sise": 100})


def test_a_typo_in_mmrag_toml_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "mmrag.toml").write_text('clip_modle = "ViT-B-16"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="unknown setting clip_modle.*did you mean clip_model"):
        Settings(library=tmp_path)


def test_library_overrides_are_validated(tmp_path: Path) -> None:
    from mmrag import Library

    with pytest.raises(ValueError) as err:
        Library(tmp_path / "a", batch_size=-5, device="bogus")
    text = str(err.value)
    assert "batch_size" in text and "-5" in text and "greater than or equal to 1" in text
    assert "device must be one of auto, cpu, cuda, mps (or cuda:N), got 'bogus'" in text
    base = Settings(library=tmp_path / "b", rag={"mode": "bm25", "top_k": 3})
    with pytest.raises(ValueError, match="batch_size"):
        Library(base, batch_size=0)
    with pytest.raises(ValueError, match="unknown setting devcie"):
        Library(base, devcie="cpu")
    changed = base.override(rag={"top_k": 7}, device="cpu")
    assert (changed.rag.mode, changed.rag.top_k, changed.device, changed.library) == ("bm25", 7, "cpu", base.library)
    assert base.rag.top_k == 3  # the original is untouched


def test_unknown_mmrag_variables_warn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_BATCH_SIZ", "8")
    monkeypatch.setenv("MMRAG_SERVER", "http://127.0.0.1:1")  # the REST client's, not a setting: no warning
    with pytest.warns(UserWarning, match="MMRAG_BATCH_SIZ names no mmrag setting.*MMRAG_BATCH_SIZE") as caught:
        Settings(library=tmp_path)
    assert not any("MMRAG_SERVER" in str(w.message) for w in caught)


def test_lock_timeout_and_cache_dir_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMRAG_LOCK_TIMEOUT", "2.5")
    monkeypatch.setenv("MMRAG_CACHE_DIR", str(tmp_path / "cache"))
    settings = Settings(library=tmp_path / "lib")
    assert settings.lock_timeout == 2.5 and settings.cache_dir == tmp_path / "cache"
    with pytest.raises(ValueError, match="lock_timeout"):
        Settings(library=tmp_path / "lib", lock_timeout=-1)
