"""The CLI starts without the heavy parts: `mmrag --help` and `mmrag search --help` import typer and rich (and
pydantic, which typer builds its parameter converters with), never numpy, the catalog, the models or the indexes.

A cold `mmrag search` pays for what it imports; these tests keep the help paths at the floor (typer + rich) and
name the module that crept in when they fail."""

from __future__ import annotations

import json
import subprocess
import sys

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
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args), json.dumps(HEAVY)],
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


def test_importing_the_cli_imports_nothing_heavy() -> None:
    code = f"import sys, mmrag.cli; print([m for m in sys.modules if m.split('.')[0] in {HEAVY!r} or m in {HEAVY!r}])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_few_collections_restores_the_threshold_even_on_error() -> None:
    import gc

    from mmrag.cli.common import few_collections

    before = gc.get_threshold()
    with pytest.raises(RuntimeError), few_collections():
        assert gc.get_threshold()[0] > before[0]
        raise RuntimeError("the command failed")
    assert gc.get_threshold() == before
