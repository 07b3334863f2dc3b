"""Every command that opens a library closes it, on success and on a known failure, and reports that failure
as one clean line with exit code 1 (``opened_library`` / ``reported`` in cli/common.py; typer's runner, a real
library made with the tiny CLIP model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mmrag.cli import app
from mmrag.library import Library


@pytest.fixture
def library(tmp_path: Path, photos: Path) -> Path:
    lib = tmp_path / "lib"
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "router.txt").write_text("The router resets when you hold its button for ten seconds.\n")
    result = CliRunner().invoke(app, ["ingest", str(photos / "coffee.jpg"), str(photos / "rocket.jpg"), str(docs),
                                      "--library", str(lib), "--clip-model", "tiny-test", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return lib


@pytest.fixture
def tracked(monkeypatch: pytest.MonkeyPatch) -> tuple[list[Library], set[int]]:
    """The real Library, with a record of each instance made and each one closed."""
    opened: list[Library] = []
    closed: set[int] = set()
    real_init, real_close = Library.__init__, Library.close

    def init(self: Library, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        opened.append(self)

    def close(self: Library) -> None:
        closed.add(id(self))
        real_close(self)

    monkeypatch.setattr(Library, "__init__", init)
    monkeypatch.setattr(Library, "close", close)
    return opened, closed


def test_each_command_closes_the_library_it_opened(library: Path, tmp_path: Path, tracked: Any) -> None:
    opened, closed = tracked
    commands = [["status"], ["search", "a cup"], ["search", "router", "--kind", "text"], ["similar", "1"],
                ["duplicates"], ["feedback"], ["ask", "how do I reset the router?"], ["doctor"],
                ["backup", str(tmp_path / "backup")]]
    for command in commands:
        before = len(opened)
        result = CliRunner().invoke(app, [*command, "--library", str(library)])
        assert result.exit_code == 0, (command, result.output)
        made = opened[before:]
        assert made, f"{command} opened no library"
        assert all(id(lib) in closed for lib in made), f"mmrag {' '.join(command)} left its library open"


@pytest.mark.parametrize(("command", "message"), [
    (["similar", "999999"], "999999"),
    (["ask", "why?", "--llm", "no-such-answerer"], "no-such-answerer"),
    (["search", "x", "--kind", "sound"], "unknown --kind 'sound'"),
])
def test_a_failure_inside_a_command_is_one_clean_line_and_closes(library: Path, tracked: Any,
                                                                 command: list[str], message: str) -> None:
    opened, closed = tracked
    result = CliRunner().invoke(app, [*command, "--library", str(library)])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output, result.output
    assert isinstance(result.exception, SystemExit)
    assert all(id(lib) in closed for lib in opened)


def test_backup_into_a_file_fails_cleanly_and_closes(library: Path, tmp_path: Path, tracked: Any) -> None:
    opened, closed = tracked
    target = tmp_path / "a-file"
    target.write_text("not a folder")
    result = CliRunner().invoke(app, ["backup", str(target), "--library", str(library)])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert str(target) in result.output or target.name in result.output, result.output
    assert opened and all(id(lib) in closed for lib in opened)


def test_restore_from_a_folder_that_is_not_a_backup_fails_cleanly(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["restore", str(tmp_path / "nothing"), "--library", str(tmp_path / "new")])
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert isinstance(result.exception, SystemExit)
