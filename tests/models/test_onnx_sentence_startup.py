"""A cold `mmrag search --kind text` / `mmrag ask` on a library with the text model's ONNX export answers without
importing torch, transformers or sentence-transformers (the seconds a question used to pay for one vector)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mmrag.models.sentence_runtime import write_export

PROBE = """
import json, sys
sys.argv = ["mmrag", *json.loads(sys.argv[1])]
from mmrag.cli import app
try:
    app()
except SystemExit as exc:
    assert not exc.code, exc.code
names = ("torch", "transformers", "sentence_transformers")
sys.stderr.write("\\nLOADED=" + json.dumps(sorted(n for n in names if n in sys.modules)) + "\\n")
"""
DOC = """# Installing packages

Packages are installed from CRAN with install.packages("name"); a local source tarball is installed with
R CMD INSTALL.

# Reading data

A comma separated file is read into a data frame with read.csv, and written back with write.csv.
"""


@pytest.fixture(scope="module")
def exported_library(tmp_path_factory: pytest.TempPathFactory, tiny_clip, text_embedder) -> Path:  # type: ignore[no-untyped-def]
    from mmrag import Library

    root = tmp_path_factory.mktemp("onnx-startup")
    (root / "docs").mkdir()
    (root / "docs" / "r-notes.md").write_text(DOC)
    with Library(root / "lib", clip=tiny_clip, text_embedder=text_embedder, clip_model="tiny-test",
                 device="cpu") as lib:
        lib.ingest(root / "docs")
    assert write_export(text_embedder, root / "lib", None) is not None
    return root / "lib"


def cold(args: list[str]) -> tuple[list[str], str]:
    env = {**os.environ, "MMRAG_CLIP_MODEL": "tiny-test", "MMRAG_DEVICE": "cpu", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(args)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 0 and "LOADED=" in done.stderr, done.stderr[-3000:]
    return json.loads(done.stderr.rsplit("LOADED=", 1)[1]), done.stdout


def test_a_text_search_on_the_export_does_not_import_torch(exported_library: Path) -> None:
    loaded, stdout = cold(["search", "how do I read a csv file", "--kind", "text", "--json", "--library",
                           str(exported_library)])
    hits = json.loads(stdout)
    assert hits and "read.csv" in json.dumps(hits)
    assert loaded == [], f"a question on the export imported {loaded}"
