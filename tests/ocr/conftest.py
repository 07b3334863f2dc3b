"""OCR fixtures: the real RapidOCR engine (PP-OCRv4 weights from the rapidocr-onnxruntime wheel, loaded once)
and images with words rendered in DejaVu (English) and WenQuanYi Zen Hei or Noto CJK (Chinese) fonts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw, ImageFont

LATIN_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
SERIF_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf")  # book text
CJK_FONTS = (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
             Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"))
FONT_HINT = "apt-get install fonts-dejavu-core fonts-wqy-zenhei"


def font(chinese: bool = False, size: int = 40) -> ImageFont.FreeTypeFont:
    candidates = CJK_FONTS if chinese else (LATIN_FONT,)
    for path in candidates:
        if path.is_file():
            return ImageFont.truetype(str(path), size)
    pytest.fail(f"no {'Chinese' if chinese else 'DejaVu'} font found ({FONT_HINT})")


def font_file(path: Path, size: int) -> ImageFont.FreeTypeFont:
    if not path.is_file():
        pytest.fail(f"font {path} not found ({FONT_HINT})")
    return ImageFont.truetype(str(path), size)


def sign(text: str, *, chinese: bool = False, size: tuple[int, int] = (480, 160), background: Any = None,
         fill: tuple[int, int, int] = (20, 20, 20)) -> Image.Image:
    """``text`` drawn large on a light background, or on a photo given as ``background``."""
    paper = Image.new("RGB", size, (235, 232, 220))
    image = background.convert("RGB").resize(size) if background is not None else paper
    draw = ImageDraw.Draw(image)
    typeface = font(chinese, 44 if chinese else 40)
    box = draw.textbbox((0, 0), text, font=typeface)
    x = (size[0] - (box[2] - box[0])) // 2 - box[0]
    y = (size[1] - (box[3] - box[1])) // 2 - box[1]
    if background is not None:
        draw.rectangle((x - 10, y - 10, x + box[2] - box[0] + 10, y + box[3] - box[1] + 10), fill=(240, 240, 240))
    draw.text((x, y), text, font=typeface, fill=fill)
    return image


@pytest.fixture(scope="session")
def ocr_engine() -> Any:
    from mmrag.models.ocr_base import load_ocr_engine

    return load_ocr_engine("rapidocr")


@pytest.fixture
def make_library(make_library: Any, text_embedder: Any) -> Any:
    """Libraries on the tiny CLIP with the session's all-MiniLM-L6-v2 (the OCR text is embedded with it at
    ingest and searched by meaning), so no test loads the text model again."""

    def make(path: Path | None = None, **overrides: Any) -> Any:
        overrides.setdefault("text_embedder", text_embedder)
        return make_library(path, **overrides)

    return make
