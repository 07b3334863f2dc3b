"""Fixtures for document tests: the real all-MiniLM-L6-v2 (loaded once per session), R manuals when present."""

from __future__ import annotations

import pytest


@pytest.fixture
def png_bytes() -> bytes:
    import io

    import numpy as np
    from PIL import Image

    pixels = (np.arange(48 * 64 * 3) % 251).astype("uint8").reshape(48, 64, 3)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
