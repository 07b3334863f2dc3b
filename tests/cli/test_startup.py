"""The CLI starts without the heavy parts: `mmrag --help` and `mmrag search --help` import typer (and pydantic,
which typer builds its parameter converters with), never rich, numpy, the catalog, the models or the indexes.

A cold `mmrag search` pays for what it imports; these tests keep the help paths at the floor (typer) and name the
module that crept in when they fail. Typer also reads every command's signature at each start, so command
annotations must be objects, not strings that it would evaluate again each time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("numpy", "sqlalchemy", "torch", "open_clip", "onnxruntime", "tokenizers", "faiss", "PIL", "nltk",
         "scipy", "sklearn", "pandas", "bm25s", "sentence_transformers", "transformers", "httpx", "fastapi",
         "pydantic_settings", "mmrag.library", "mmrag.catalog", "mmrag.components", "mmrag.settings")

PROBE = """
import json, sys
heavy_names = json.loads(sys.argv[2])
sys.argv = ["mmrag", *json.loads(sys.argv[1])]
code = 0
from mmrag.cli import app
try:
    app()
except SystemExit as exc:
    code = exc.code
heavy = sorted({top for name in sys.modules for top in heavy_names if name == top or name.startswith(top + ".")})
sys.stderr.write("\\nHEAVY=" + json.dumps(heavy) + f"\\nCODE={code}\\n")
"""


def imported_heavy(args: list[str]) -> tuple[list[str], str]:
    return imported_heavy_names(args, HEAVY)


def imported_heavy_names(args: list[str], names: tuple[str, ...]) -> tuple[list[str], str]:
    """(which of ``names`` ``mmrag ARGS`` imported, its stdout), in a fresh process."""
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(names)],
                          capture_output=True, text=True, timeout=120)
    tail = done.stderr.rsplit("HEAVY=", 1)
    assert len(tail) == 2, done.stderr[-2000:]
    heavy_json, code = tail[1].split("\nCODE=")
    assert code.strip() == "0", done.stderr[-2000:]
    return json.loads(heavy_json), done.stdout


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["similar", "--help"], ["--version"]])
def test_help_imports_nothing_heavy(args: list[str]) -> None:
    heavy, stdout = imported_heavy(args)
    assert heavy == [], f"`mmrag {' '.join(args)}` imported {heavy}"
    assert stdout.strip()


@pytest.mark.parametrize("args", [["--help"], ["search", "--help"], ["ingest", "--help"]])
def test_help_does_not_import_rich(args: list[str]) -> None:
    heavy, stdout = imported_heavy_names(args, ("rich", "mmrag.retrieval"))
    assert heavy == [], f"`mmrag {' '.join(args)}` imported {heavy}"
    assert "Usage" in stdout


def test_command_annotations_are_objects_not_strings() -> None:
    """`from __future__ import annotations` in a command module makes typer eval every annotation at each start."""
    from typer.main import get_command

    from mmrag.cli import app

    get_command(app)  # every command registered, as at a real start
    commands = [*app.registered_commands, *(c for group in app.registered_groups
                                            for c in group.typer_instance.registered_commands)]
    assert len(commands) > 10
    stringly = [f"{c.callback.__module__}.{c.callback.__name__}" for c in commands
                if any(isinstance(a, str) for a in c.callback.__annotations__.values())]
    assert stringly == []


def test_importing_the_cli_imports_nothing_heavy() -> None:
    code = f"import sys, mmrag.cli; print([m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_few_collections_restores_the_threshold_even_on_error() -> None:
    import gc

    from mmrag.cli.startup import few_collections

    before = gc.get_threshold()
    with pytest.raises(RuntimeError), few_collections():
        assert gc.get_threshold()[0] > before[0]
        raise RuntimeError("the command failed")
    assert gc.get_threshold() == before


def test_the_cli_freezes_its_objects_at_exit_before_the_final_collections() -> None:
    """A handler registered before `import mmrag.cli` runs after the CLI's (atexit is last in, first out): by then
    every object is in the permanent generation, which the interpreter's final collections do not walk."""
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: sys.stderr.write(f'FROZEN={gc.get_freeze_count()}\\n'))\n"
            "import mmrag.cli\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert int(done.stderr.rsplit("FROZEN=", 1)[1]) > 10_000, done.stderr[-2000:]


def test_a_json_search_does_not_import_rich(run, photos: Path, tmp_path: Path) -> None:
    run("ingest", str(photos))
    found, stdout = imported_heavy_names(["search", "a cat", "--json", "--library", str(tmp_path / "lib")],
                                         ("rich",))
    assert found == []
    assert json.loads(stdout)
