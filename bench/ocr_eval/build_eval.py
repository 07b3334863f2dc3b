"""Build the OCR search evaluation set: photos, a minority with 2–4 word phrases rendered onto them.

Photos: scikit-image's and scikit-learn's bundled sample photos, each image a random crop, flip, scale and
colour shift of one of them (no downloads). Text: English phrases from ``WORDS_EN`` and Chinese phrases from
``WORDS_ZH``, drawn in several fonts (Debian fonts-dejavu; fonts-wqy-zenhei or fonts-noto-cjk for Chinese),
sizes, colours (light or dark on a contrasting band or directly on the photo) and angles (-30..30 degrees;
some upside down). Every text image gets its own phrase; phrases share words, so BM25 has to rank.

Writes ``<out>/images/*.jpg`` and ``<out>/manifest.json``: one entry per image with ``has_text``,
``language`` and ``query`` (the rendered phrase) for text images.

    python bench/ocr_eval/build_eval.py --out /tmp/ocr-eval --n 1000 --text-share 0.2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

WORDS_EN = (
    "harbour street bakery garden museum station market river bridge castle coffee summer winter autumn spring "
    "festival concert library school hospital airport hotel theatre cinema stadium park beach mountain island "
    "village city north south east west central old new royal grand little golden silver green blue red black "
    "white yellow orange purple fresh daily weekly night morning evening sale open closed welcome exit entrance "
    "parking ticket office pharmacy bank post police fire emergency danger caution stop slow quiet private "
    "public toilet kitchen menu pizza pasta bread cheese wine beer tea juice fruit flower book music dance art "
    "photo gallery science history nature ocean forest lake valley desert road avenue lane square tower gate "
    "hall house home farm shop store center club team world national family friends happy lucky magic simple "
    "modern classic vintage premium organic local quality service repair rental tours travel express union "
    "crystal diamond ruby pearl maple cedar willow falcon eagle tiger dragon phoenix lotus orchid jasmine"
).split()
WORDS_ZH = (
    "北京 上海 广州 深圳 南京 杭州 成都 重庆 武汉 西安 天津 苏州 长沙 青岛 厦门 大连 "
    "欢迎 光临 出口 入口 停车 禁止 吸烟 安全 注意 小心 危险 请勿 餐厅 饭店 酒店 宾馆 "
    "书店 药店 银行 邮局 医院 学校 大学 图书馆 博物馆 火车站 机场 地铁 公园 广场 "
    "咖啡 面包 牛奶 茶叶 水果 蔬菜 米饭 面条 饺子 包子 火锅 烧烤 海鲜 甜品 蛋糕 果汁 "
    "春天 夏天 秋天 冬天 早上 晚上 今天 明天 新年 快乐 幸福 健康 平安 发展 文化 历史 "
    "科学 技术 经济 社会 教育 艺术 音乐 电影 体育 旅游 服务 中心 市场 超市 商店 工厂"
).split()
PHOTOS_SKIMAGE = ("astronaut", "chelsea", "coffee", "rocket", "colorwheel", "immunohistochemistry",
                  "hubble_deep_field", "retina", "camera", "moon", "coins", "horse", "clock", "page", "text",
                  "grass", "gravel", "brick", "cell", "eagle", "shepp_logan_phantom", "logo", "motorcycle_left",
                  "motorcycle_right", "stereo_motorcycle", "microaneurysms", "kidney", "lily", "checkerboard")
# scikit-image samples that show text themselves ("page", "text"; the astronaut's badge is too small to read
# at these sizes but is checked by the has_text precision figure like every other image).
PHOTOS_WITH_TEXT = frozenset({"page", "text"})
FONTS_EN = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
            "DejaVuSansMono.ttf", "DejaVuSansCondensed-Oblique.ttf")
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"),)
FONTS_ZH = (Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"),
            Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
            Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"))


def sample_photos() -> list[Image.Image]:
    """Every bundled sample photo that loads, as RGB (skimage's that need a download are left out)."""
    from skimage import data
    from sklearn.datasets import load_sample_images

    photos = []
    for name in PHOTOS_SKIMAGE:
        if name in PHOTOS_WITH_TEXT:
            continue
        try:
            array = np.asarray(getattr(data, name)())
        except Exception:  # noqa: BLE001 - a sample that needs pooch/network is simply not used
            continue
        if array.dtype == bool:
            array = array.astype(np.uint8) * 255
        if array.dtype != np.uint8:
            array = (255 * (array - array.min()) / max(float(np.ptp(array)), 1e-9)).astype(np.uint8)
        if array.ndim == 3 and array.shape[0] == 2:  # stereo pair
            array = array[0]
        photos.append(Image.fromarray(array).convert("RGB"))
    photos.extend(Image.fromarray(image).convert("RGB") for image in load_sample_images().images)
    return photos


def variant(photo: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A different-looking photo: random crop, flip, scale to 384–640 px wide, colour gains."""
    w, h = photo.size
    cw, ch = int(w * rng.uniform(0.55, 1.0)), int(h * rng.uniform(0.55, 1.0))
    left, top = int(rng.integers(0, w - cw + 1)), int(rng.integers(0, h - ch + 1))
    image = photo.crop((left, top, left + cw, top + ch))
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    width = int(rng.integers(384, 641))
    image = image.resize((width, max(64, int(width * ch / cw))), Image.Resampling.BICUBIC)
    gains = rng.uniform(0.8, 1.2, size=3)
    return Image.fromarray(np.clip(np.asarray(image, dtype=np.float32) * gains, 0, 255).astype(np.uint8))


def phrase(words: tuple[str, ...], rng: np.random.Generator, used: set[str], joiner: str) -> str:
    while True:
        count = int(rng.integers(2, 5))
        text = joiner.join(str(w) for w in rng.choice(words, size=count, replace=False))
        if text not in used:
            used.add(text)
            return text


def render(image: Image.Image, text: str, font_path: Path, rng: np.random.Generator) -> Image.Image:
    """Draw ``text`` on a transparent layer, rotate it, and paste it somewhere it fits."""
    size = int(rng.integers(22, 49))
    font = ImageFont.truetype(str(font_path), size)
    box = ImageDraw.Draw(image).textbbox((0, 0), text, font=font)
    tw, th = box[2] - box[0] + 16, box[3] - box[1] + 16
    while tw > image.width * 0.95 and size > 14:  # shrink long phrases to fit the photo
        size -= 4
        font = ImageFont.truetype(str(font_path), size)
        box = ImageDraw.Draw(image).textbbox((0, 0), text, font=font)
        tw, th = box[2] - box[0] + 16, box[3] - box[1] + 16
    layer = Image.new("RGBA", (tw, th), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    dark = rng.random() < 0.5
    ink = tuple(int(v) for v in (rng.integers(0, 70, 3) if dark else rng.integers(190, 256, 3)))
    if rng.random() < 0.5:  # a sign-like band behind the text
        band = tuple(int(v) for v in (rng.integers(200, 256, 3) if dark else rng.integers(0, 60, 3)))
        draw.rectangle((0, 0, tw, th), fill=(*band, 230))
    else:  # directly on the photo, with a thin outline as on posters and memes
        draw.text((8 - box[0], 8 - box[1]), text, font=font, fill=(255, 255, 255, 255) if dark else (0, 0, 0, 255),
                  stroke_width=2)
    draw.text((8 - box[0], 8 - box[1]), text, font=font, fill=(*ink, 255))
    angle = 180.0 if rng.random() < 0.05 else float(rng.uniform(-30, 30)) if rng.random() < 0.4 else 0.0
    layer = layer.rotate(angle, expand=True, resample=Image.Resampling.BICUBIC)
    if layer.width > image.width or layer.height > image.height:
        layer.thumbnail((image.width, image.height))
    x = int(rng.integers(0, image.width - layer.width + 1))
    y = int(rng.integers(0, image.height - layer.height + 1))
    out = image.convert("RGBA")
    out.alpha_composite(layer, (x, y))
    return out.convert("RGB")


def font_files() -> tuple[list[Path], list[Path]]:
    english = [d / name for d in FONT_DIRS for name in FONTS_EN if (d / name).is_file()]
    chinese = [p for p in FONTS_ZH if p.is_file()]
    if not english:
        raise SystemExit("no DejaVu fonts: apt-get install fonts-dejavu-core")
    if not chinese:
        raise SystemExit("no Chinese font: apt-get install fonts-wqy-zenhei (or fonts-noto-cjk)")
    return english, chinese


def build(out: Path, n: int, text_share: float, zh_share: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    english, chinese = font_files()
    photos = sample_photos()
    folder = out / "images"
    folder.mkdir(parents=True, exist_ok=True)
    used: set[str] = set()
    entries = []
    n_text = int(round(n * text_share))
    text_slots = set(rng.choice(n, size=n_text, replace=False).tolist())
    for number in range(n):
        image = variant(photos[number % len(photos)], rng)
        entry: dict = {"file": f"images/img_{number:05d}.jpg", "has_text": number in text_slots}
        if number in text_slots:
            chinese_text = rng.random() < zh_share
            words, fonts, joiner = (WORDS_ZH, chinese, "") if chinese_text else (WORDS_EN, english, " ")
            text = phrase(words, rng, used, joiner)
            image = render(image, text, fonts[int(rng.integers(len(fonts)))], rng)
            entry.update(language="zh" if chinese_text else "en", query=text)
        image.save(out / entry["file"], quality=int(rng.integers(80, 96)))
        entries.append(entry)
    manifest = {"n": n, "text_share": text_share, "zh_share": zh_share, "seed": seed, "images": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--text-share", type=float, default=0.2, help="share of images with a rendered phrase")
    parser.add_argument("--zh-share", type=float, default=0.5, help="share of those phrases in Chinese")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    manifest = build(args.out, args.n, args.text_share, args.zh_share, args.seed)
    counts = {"text": sum(e["has_text"] for e in manifest["images"]), "total": len(manifest["images"])}
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
