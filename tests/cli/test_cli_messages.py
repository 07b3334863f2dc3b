"""What a new user reads: messages that name what they can type, output on success, read commands that never
create a library by mistake, a library that a failed first ingest cannot brick (typer's runner, real library)."""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrag.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("COLUMNS", "80")
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True, **env: str):
        result = runner.invoke(app, list(args), env=env or None)
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
            assert "Traceback" not in result.output and result.exception is None or isinstance(
                result.exception, SystemExit), result.output
        return result

    return invoke


@pytest.fixture
def library(cli, tmp_path: Path, photos: Path) -> Path:
    """A library with two photos, one of them under a sub-folder, made with the tiny CLIP model."""
    (photos / "2024").mkdir()
    shutil.copy(photos / "rocket.jpg", photos / "2024" / "rocket.jpg")
    lib = tmp_path / "lib"
    cli("ingest", str(photos / "coffee.jpg"), str(photos / "2024"), "--library", str(lib), "--clip-model",
        "tiny-test", "--device", "cpu")
    return lib


# ---- item 2: a failed first ingest does not brick the library ---------------------------------------------


def test_failed_first_ingest_records_no_model_and_the_recorded_model_wins(cli, tmp_path: Path,
                                                                           photos: Path) -> None:
    lib = tmp_path / "fresh"
    failed = cli("ingest", str(photos / "coffee.jpg"), "--library", str(lib), "--device", "cpu", ok=False)
    assert "ViT-B-32" in failed.output and "--clip-model" in failed.output  # offline: no weights
    assert "clip_model" not in _toml(lib), "a model was recorded although no vector was written"
    cli("ingest", str(photos / "coffee.jpg"), "--library", str(lib), "--clip-model", "tiny-test", "--device", "cpu")
    assert _toml(lib)["clip_model"] == "tiny-test"
    hits = json.loads(cli("search", "a cup", "--library", str(lib), "--json").stdout)  # no model flags
    assert [Path(h["path"]).name for h in hits] == ["coffee.jpg"]


def test_doctor_fixes_a_settings_file_that_names_another_model(cli, library: Path) -> None:
    toml = library / "mmrag.toml"
    toml.write_text(toml.read_text().replace('clip_model = "tiny-test"', 'clip_model = "ViT-B-32"'))
    assert _toml(library)["clip_model"] == "ViT-B-32"  # as a failed first ingest used to leave it
    cli("search", "x", "--library", str(library))  # the model the vectors were made by wins
    report = cli("doctor", "--library", str(library))
    assert "mmrag.toml names the CLIP model" in " ".join(report.output.split()) and "--fix" in report.output
    cli("doctor", "--fix", "--library", str(library))
    assert _toml(library)["clip_model"] == "tiny-test"
    assert "settings-model" not in cli("doctor", "--library", str(library)).output
    pinned = cli("search", "x", "--library", str(library), "--clip-model", "ViT-B-32", ok=False)
    assert "tiny-test" in pinned.output and "Leave out --clip-model" in " ".join(pinned.output.split())


def _toml(library: Path) -> dict:
    path = library / "mmrag.toml"
    return tomllib.loads(path.read_text()) if path.is_file() else {}


# ---- item 3: messages name what the user can type ---------------------------------------------------------


def test_version() -> None:
    from importlib.metadata import version

    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"mmrag {version('mmrag')}"


def test_a_bad_environment_value_names_the_variable(cli, tmp_path: Path) -> None:
    result = cli("status", "--library", str(tmp_path / "x"), ok=False, MMRAG_DEVICE="cdua")
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert len(errors) == 1 and "MMRAG_DEVICE" in errors[0] and "'cdua'" in errors[0], result.output
    assert "auto, cpu, cuda, mps" in errors[0] and "pydantic" not in result.output


def test_model_flags_exist_where_models_load(cli, library: Path) -> None:
    for command in ("ingest", "search", "similar", "ask"):
        help_text = cli(command, "--help").stdout
        assert "--clip-model" in help_text and "--clip-pretrained" in help_text and "--device" in help_text, command
    bad = cli("search", "x", "--library", str(library), "--device", "cdua", ok=False)
    assert "--device" in bad.output and "cdua" in bad.output and "MMRAG_DEVICE" not in bad.output


def test_kind_help_and_error_agree(cli, library: Path) -> None:
    help_kinds = re.search(r"--kind KIND\s.*?\(([^)]*)\)", " ".join(cli("search", "--help").stdout.split())).group(1)
    error = cli("search", "x", "--kind", "photo", "--library", str(library), ok=False).output
    for kind in help_kinds.split(" | "):
        assert kind in error, (kind, error)


# ---- item 4: error text is printed as is -----------------------------------------------------------------


def test_error_text_is_not_rich_markup(cli, library: Path, tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "notes.txt").write_text("The router resets when you hold its button for ten seconds.\n")
    cli("ingest", str(tmp_path / "docs"), "--library", str(library))
    result = cli("ask", "How do I reset the router?", "--llm", "llama-cpp", "--model-path",
                 str(tmp_path / "missing.gguf"), "--library", str(library), ok=False)
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        assert "pip install 'mmrag[llama-cpp]'" in result.output, result.output  # brackets are not markup
    else:
        assert "missing.gguf" in result.output


# ---- item 5: read commands never create a library -----------------------------------------------------------


@pytest.mark.parametrize("command", [["status"], ["search", "x"], ["similar", "1"], ["duplicates"], ["skipped"],
                                     ["ask", "why?"], ["rebuild"], ["tag", "1", "--add", "a"], ["doctor"]])
def test_read_commands_on_a_folder_that_is_not_a_library(cli, tmp_path: Path, command: list[str]) -> None:
    typo = tmp_path / "libary"
    result = cli(*command, "--library", str(typo), ok=False)
    assert result.exit_code == 1 and "not an mmrag library" in result.output and str(typo) in result.output
    assert not typo.exists()


def test_ask_on_a_library_without_documents_says_so(cli, library: Path) -> None:
    result = cli("ask", "how do I reset the router?", "--library", str(library))
    assert "no documents" in result.stdout and "close enough" not in result.output
    answer = json.loads(cli("ask", "how do I reset the router?", "--json", "--library", str(library)).stdout)
    assert answer["answered"] is False and "no documents" in answer["text"]


# ---- item 6: output ------------------------------------------------------------------------------------------


def test_tag_and_skipped_print_on_success(cli, library: Path) -> None:
    hits = json.loads(cli("search", "x", "--json", "--library", str(library)).stdout)
    ids = [str(h["id"]) for h in hits]
    shown = cli("tag", *ids, "--add", "favourite", "--library", str(library)).stdout
    assert shown.splitlines() == [f"{asset_id}: favourite" for asset_id in ids]
    tagged = json.loads(cli("tag", ids[0], "--remove", "favourite", "--json", "--library", str(library)).stdout)
    assert tagged == [{"id": int(ids[0]), "tags": []}]
    assert "no skipped files" in cli("skipped", "--library", str(library)).stdout


def test_rebuild_prints_no_python_dicts(cli, library: Path) -> None:
    text = cli("rebuild", "--library", str(library)).stdout
    assert "{" not in text and "'" not in text and "image" in text and "2 vectors" in text


def test_long_paths_are_never_broken(cli, tmp_path: Path, photos: Path) -> None:
    deep = tmp_path / ("a-rather-long-folder-name-" * 3) / "holiday-photographs-from-the-seaside"
    deep.mkdir(parents=True)
    shutil.copy(photos / "coffee.jpg", deep / "coffee-with-a-long-descriptive-name.jpg")
    (deep / "an-empty-file-that-is-not-a-picture.jpg").write_bytes(b"")
    lib = str(tmp_path / "lib")
    ingested = cli("ingest", str(deep), "--library", lib, "--clip-model", "tiny-test", "--device", "cpu").stdout
    assert str(deep / "an-empty-file-that-is-not-a-picture.jpg") in ingested
    assert str(deep / "an-empty-file-that-is-not-a-picture.jpg") in cli("skipped", "--library", lib).stdout
    assert str(deep / "coffee-with-a-long-descriptive-name.jpg") in cli("search", "coffee", "--library", lib).stdout


def test_help_shows_no_bool_types_and_every_option_has_help(cli) -> None:
    for command in ("ingest", "search", "ask", "tag", "generate", "doctor"):
        text = cli(command, "--help").stdout
        assert "<bool>" not in text, command
    assert re.search(r"--batch-size\s+\S.*\w", cli("ingest", "--help").stdout)


def test_readme_shows_doctor_and_folder_globs() -> None:
    text = README.read_text(encoding="utf-8")
    assert "mmrag doctor" in text and '--folder "photos2/*"' not in text.split("## ")[0]


# ---- item 8: folder globs mean what a user means ----------------------------------------------------------------


def test_folder_glob_includes_the_folders_own_files(cli, library: Path) -> None:
    for pattern in ("2024", "2024/", "2024/*"):
        hits = json.loads(cli("search", "x", "--folder", pattern, "--json", "--library", str(library)).stdout)
        assert [Path(h["path"]).name for h in hits] == ["rocket.jpg"], pattern
