"""The RapidOCR engine on real weights: rendered English and Chinese, rotated text, no text, odd images."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw

from mmrag.ingest.ocr import OcrStep
from mmrag.models.ocr_base import OCR_ENGINES, OcrResult, TextBox, check_ocr_mode, load_ocr_engine

from .conftest import SERIF_FONT, font_file, sign


def _words(result: OcrResult) -> str:
    return " ".join(result.text.lower().split())


def test_reads_english_words_with_boxes_and_confidence(ocr_engine) -> None:
    image = sign("Harbour Bakery")
    assert ocr_engine.has_text(image)
    result = ocr_engine.read(image)
    assert "harbour bakery" in _words(result)
    line = result.lines[0]
    assert line.confidence > 0.8
    xs = [x for x, _ in line.box]
    assert len(line.box) == 4 and 0 <= min(xs) < max(xs) <= image.width
    assert result.engine == "rapidocr" and (result.width, result.height) == image.size


def test_small_body_text_keeps_the_spaces_between_words(ocr_engine) -> None:
    """Book text scanned at 200 dpi (18 px serif, grey JPEG): lines lower than the recogniser's 48 px input
    used to come back without spaces ("distributionsofRareavailable"), which BM25 cannot match."""
    lines = ("Binary distributions of R are available on many systems",
             "so check your search facilities to see if one is available")
    page = Image.new("L", (1000, 120), 255)
    draw = ImageDraw.Draw(page)
    for number, line in enumerate(lines):
        draw.text((20, 20 + 40 * number), line, font=font_file(SERIF_FONT, 18), fill=20)
    buffer = io.BytesIO()
    page.save(buffer, "JPEG", quality=85)
    words = _words(ocr_engine.read(Image.open(buffer)))
    assert "distributions of r are available on many" in words
    assert "check your search facilities" in words


def test_reads_chinese_words(ocr_engine) -> None:
    result = ocr_engine.read(sign("北京欢迎你", chinese=True))
    assert "北京欢迎你" in result.text.replace(" ", "")


@pytest.mark.parametrize("angle", [180, 90, 15])
def test_rotated_and_upside_down_text_is_read(ocr_engine, angle: int) -> None:
    """Each line is turned upright before recognition; lines keep the order of the image as given (an
    upside-down sign split in two boxes reads "Budget Quarterly"), which word search does not mind."""
    image = sign("Quarterly Budget", size=(520, 200)).rotate(angle, expand=True, fillcolor=(235, 232, 220))
    assert {"quarterly", "budget"} <= set(_words(ocr_engine.read(image)).split())


def test_photo_without_text_gets_none(ocr_engine) -> None:
    from skimage import data

    photo = Image.fromarray(data.chelsea())
    assert not ocr_engine.has_text(photo)
    result = ocr_engine.read(photo)
    assert not result and result.text == "" and result.confidence == 0.0


@pytest.mark.parametrize("size", [(1, 1), (3, 900), (6000, 40), (9000, 7000)])
def test_tiny_thin_and_huge_images_never_crash(ocr_engine, size: tuple[int, int]) -> None:
    image = Image.new("RGB", size, (128, 128, 128))
    assert isinstance(ocr_engine.has_text(image), bool)
    assert not ocr_engine.read(image)


def test_huge_image_with_text_is_read_at_reduced_size_with_boxes_in_its_own_pixels(ocr_engine) -> None:
    base = sign("Grand Hotel", size=(480, 160))
    huge = base.resize((4800, 1600))
    result = ocr_engine.read(huge)
    assert "grand hotel" in _words(result)
    assert max(x for line in result.lines for x, _ in line.box) > 2000  # scaled back to the input's pixels


@pytest.mark.parametrize("mode", ["L", "1", "RGBA", "P", "I;16"])
def test_any_pillow_mode(ocr_engine, mode: str) -> None:
    image = sign("Exit").convert(mode) if mode != "I;16" else sign("Exit").convert("L").convert("I;16")
    step = OcrStep("on", "rapidocr")
    step._engine = ocr_engine
    result = step(image, "mode test")
    assert result is not None  # never an exception; modes are converted


def test_auto_mode_skips_recognition_when_the_detector_finds_nothing(ocr_engine) -> None:
    from skimage import data

    step = OcrStep("auto", "rapidocr")
    step._engine = ocr_engine
    assert step(Image.fromarray(data.coffee())) == OcrResult((), 600, 400, "rapidocr")
    assert "exit" in _words(step(sign("Exit")))
    assert OcrStep("off", "rapidocr")(sign("Exit")) is None


def test_registry_and_modes_name_the_valid_choices() -> None:
    load_ocr_engine("rapidocr")  # registers the built-ins
    assert "rapidocr" in OCR_ENGINES
    with pytest.raises(ValueError, match="unknown OCR engine 'nope'; available: \\['rapidocr'\\]"):
        load_ocr_engine("nope")
    with pytest.raises(ValueError, match="ocr must be one of auto, on, off, got 'yes'"):
        check_ocr_mode("yes")


def test_text_box_round_trips_through_json() -> None:
    box = TextBox("Exit", 0.97, ((1, 2), (30, 2), (30, 12), (1, 12)))
    assert TextBox.from_dict(box.to_dict()) == box
