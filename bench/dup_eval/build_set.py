"""Build the labelled near-duplicate set used by bench/bench_duplicates.py (public images only).

Photos: scikit-image and scikit-learn sample photos and the Debian wallpapers of ``ukui-wallpapers`` /
``lomiri-wallpapers`` / ``desktop-base`` (apt-get install tango-icon-theme oxygen-icon-theme gnome-icon-theme
mate-icon-theme librsvg2-bin ukui-wallpapers lomiri-wallpapers desktop-base). Each original gets the edits in
``EDITS`` (one file each).
Look-alikes are DIFFERENT pictures: the other view of skimage's stereo motorcycle pair, and desktop-base theme variants
(joy vs joy-inksplat, homeworld's wallpaper vs its login screen); every other original is a
look-alike of the others too, which is how precision is counted.

Icons, four sets, one group per icon: ``icons`` (Tango, apt-get install tango-icon-theme: the hand-drawn
16/22/24/32 px PNGs and the SVG rendered at 48/64/128/256 px) and ``icons-gnome`` (GNOME's legacy theme,
apt-get install gnome-icon-theme: PNGs at 16/22/24/32/48/256 px), the sets the icon parameters are chosen on;
``icons-oxygen`` (apt-get install oxygen-icon-theme: PNGs at 16/22/32/48/64/128/256 px, each size drawn again)
and ``icons-mate`` (apt-get install mate-icon-theme: PNGs at 16/22/24/32/48/256 px), held out: never used to
choose a parameter. Look-alikes are the other
icons of the same category (folder, folder-remote, folder-blue, ...). Names that are links to another icon are
left out (the same file twice, not a look-alike).

    python -m mmrag.bench.dup_eval.build_set OUT_DIR   (or: python bench/dup_eval/build_set.py OUT_DIR)

writes OUT_DIR/{photos,icons,icons-oxygen,icons-gnome,icons-mate}/*.{png,jpg} and OUT_DIR/labels.json:
file -> {set, group, edit}.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

PHOTO_SIDE = 1024  # originals are scaled to this longest side (keeps the run short)
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry",
                  "motorcycle_left", "camera", "coins", "moon", "brick", "grass", "gravel")
WALLPAPER_DIRS = ("/usr/share/backgrounds",)
THEME_WALLPAPER = "/usr/share/desktop-base/{theme}-theme/wallpaper/contents/images/1920x1080.svg"
ICON_ROOT = Path("/usr/share/icons/Tango")
ICON_CATEGORIES = ("places", "devices", "mimetypes", "status", "actions")
ICONS_PER_CATEGORY = 14
ICON_PNG_SIZES = (16, 22, 24, 32)
ICON_SVG_SIZES = (48, 64, 128, 256)
GNOME2_SIZES = (16, 22, 24, 32, 48, 256)
THEMES = {  # set name -> (theme folder, the sizes it ships as PNGs)
    "icons-oxygen": (Path("/usr/share/icons/oxygen/base"), (16, 22, 32, 48, 64, 128, 256)),
    "icons-gnome": (Path("/usr/share/icons/gnome"), GNOME2_SIZES),
    "icons-mate": (Path("/usr/share/icons/mate"), GNOME2_SIZES),
}


def edits(rng: random.Random) -> dict[str, Callable[[Image.Image], Image.Image]]:
    def crop(area: float) -> Callable[[Image.Image], Image.Image]:
        def run(im: Image.Image) -> Image.Image:
            side = area ** 0.5
            w, h = round(im.width * side), round(im.height * side)
            x, y = rng.randint(0, im.width - w), rng.randint(0, im.height - h)
            return im.crop((x, y, x + w, y + h))
        return run

    def small_rotation(im: Image.Image) -> Image.Image:
        angle = rng.choice((-1, 1)) * rng.uniform(4, 15)
        rotated = im.rotate(angle, Image.Resampling.BICUBIC, expand=False)
        rad = np.radians(abs(angle))  # keep the largest centred rectangle without empty corners
        w, h = im.size
        scale = 1 / (np.cos(rad) + np.sin(rad) * max(w, h) / min(w, h))
        cw, ch = int(w * scale), int(h * scale)
        return rotated.crop(((w - cw) // 2, (h - ch) // 2, (w + cw) // 2, (h + ch) // 2))

    def watermark(im: Image.Image) -> Image.Image:
        out = im.convert("RGBA")
        layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(layer)
        size = max(12, im.height // 14)
        box = (im.width * 0.55, im.height * 0.85, im.width * 0.97, im.height * 0.97)
        draw.rectangle(box, fill=(255, 255, 255, 110))
        draw.text((im.width * 0.57, im.height * 0.86), "© mmrag 2026", fill=(0, 0, 0, 200), font_size=size)
        return Image.alpha_composite(out, layer).convert("RGB")

    def colour(im: Image.Image) -> Image.Image:
        im = ImageEnhance.Brightness(im).enhance(rng.uniform(1.15, 1.3))
        return ImageEnhance.Color(im).enhance(rng.uniform(1.3, 1.6))

    return {
        "resize": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
        "recompress": lambda im: im,  # saved as JPEG quality 35 below
        "colour": colour,
        "greyscale": lambda im: ImageOps.grayscale(im).convert("RGB"),
        "blur": lambda im: im.filter(ImageFilter.GaussianBlur(2.5)),
        "crop80": crop(0.8),
        "crop70": crop(0.7),
        "rotate90": lambda im: im.transpose(Image.Transpose.ROTATE_90),
        "rotate180": lambda im: im.transpose(Image.Transpose.ROTATE_180),
        "rotate270": lambda im: im.transpose(Image.Transpose.ROTATE_270),
        "rotate-small": small_rotation,
        "mirror": lambda im: im.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
        "watermark": watermark,
        "border": lambda im: ImageOps.expand(im, border=max(8, im.width // 20), fill=(255, 255, 255)),
    }


def photo_originals() -> dict[str, Image.Image]:
    from sklearn.datasets import load_sample_image

    found = {f"skimage-{name}": Image.fromarray(_skimage(name)) for name in SKIMAGE_PHOTOS}
    found.update({f"sklearn-{n}": Image.fromarray(load_sample_image(f"{n}.jpg")) for n in ("china", "flower")})
    for folder in WALLPAPER_DIRS:
        for path in sorted(Path(folder).glob("*")):
            if path.suffix.lower() in (".jpg", ".png"):
                found[f"wall-{path.stem}"] = Image.open(path)
    for theme in ("joy", "homeworld", "lines", "moonlight", "softwaves", "futureprototype", "emerald", "spacefun"):
        svg = Path(THEME_WALLPAPER.format(theme=theme))
        if svg.exists():
            found[f"desktop-{theme}"] = _render(svg, 1920)
    return _distinct({name: _upright(im) for name, im in found.items()})


def _distinct(images: dict[str, Image.Image]) -> dict[str, Image.Image]:
    """Leave out an image with the same pixels as an earlier one (the packages ship a few twice under two
    names: they are the same picture, not look-alikes)."""
    seen: set[bytes] = set()
    kept = {}
    for name, image in images.items():
        key = image.tobytes()
        if key not in seen:
            seen.add(key)
            kept[name] = image
    return kept


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    return data.stereo_motorcycle()[0] if name == "motorcycle_left" else getattr(data, name)()


def photo_lookalikes() -> dict[str, Image.Image]:
    from skimage import data

    found = {"skimage-motorcycle_right": Image.fromarray(data.stereo_motorcycle()[1])}
    sources = {
        "desktop-joy-inksplat": Path(THEME_WALLPAPER.format(theme="joy-inksplat")),
        "desktop-homeworld-login": Path("/usr/share/desktop-base/homeworld-theme/login/background-nologo.svg"),
    }
    for name, path in sources.items():
        if path.exists():
            found[name] = _render(path, 1920) if path.suffix == ".svg" else Image.open(path)
    return {name: _upright(im) for name, im in found.items()}


def _upright(im: Image.Image) -> Image.Image:
    rgb = im.convert("RGB") if im.mode != "RGBA" else _on_white(im)
    scale = PHOTO_SIDE / max(rgb.size)
    if scale >= 1:
        return rgb
    return rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.LANCZOS)


def _on_white(im: Image.Image) -> Image.Image:
    background = Image.new("RGB", im.size, (255, 255, 255))
    background.paste(im, mask=im.getchannel("A"))
    return background


def _render(svg: Path, width: int) -> Image.Image:
    png = subprocess.run(["rsvg-convert", "-w", str(width), str(svg)], check=True, capture_output=True).stdout
    import io

    return Image.open(io.BytesIO(png)).convert("RGBA")


def build_photos(out: Path, labels: dict[str, dict[str, str]], rng: random.Random) -> None:
    folder = out / "photos"
    folder.mkdir(parents=True, exist_ok=True)
    for name, original in photo_originals().items():
        _save(original, folder / f"{name}.png", labels, "photos", name, "original")
        for edit, run in edits(rng).items():
            quality = 35 if edit == "recompress" else 90
            _save(run(original), folder / f"{name}--{edit}.jpg", labels, "photos", name, edit, quality)
    for name, image in photo_lookalikes().items():
        _save(image, folder / f"{name}.png", labels, "photos", name, "lookalike")


def build_icons(out: Path, labels: dict[str, dict[str, str]], rng: random.Random) -> None:
    """The Tango set (``icons``): hand-drawn small PNGs and the SVG rendered at the larger sizes."""
    folder = out / "icons"
    folder.mkdir(parents=True, exist_ok=True)
    for category in ICON_CATEGORIES:
        svgs = sorted(p for p in (ICON_ROOT / "scalable" / category).glob("*.svg") if not p.is_symlink())
        for svg in sorted(rng.sample(svgs, min(ICONS_PER_CATEGORY, len(svgs)))):
            group = f"{category}-{svg.stem}"
            for size in ICON_PNG_SIZES:
                png = ICON_ROOT / f"{size}x{size}" / category / f"{svg.stem}.png"
                if png.exists():
                    _save(_on_white(Image.open(png).convert("RGBA")), folder / f"{group}--{size}.png", labels,
                          "icons", group, f"{size}px")
            for size in ICON_SVG_SIZES:
                _save(_on_white(_render(svg, size)), folder / f"{group}--{size}.png", labels, "icons", group,
                      f"{size}px")


def build_theme(out: Path, labels: dict[str, dict[str, str]], rng: random.Random, kind: str) -> None:
    """An icon set of a theme that ships PNGs at each size (``THEMES[kind]``): icons shipped as real files (not
    links) at every size, ``ICONS_PER_CATEGORY`` a category, drawn at random; one is left out when its 48 px
    drawing is the artwork of one already taken (``_same_artwork``: Oxygen ships some artwork under two names,
    e.g. tools-rip-audio-cd and media-optical-audio: the same icon, not a look-alike)."""
    root, sizes = THEMES[kind]
    folder = out / kind
    folder.mkdir(parents=True, exist_ok=True)
    taken: list[np.ndarray] = []
    for category in ICON_CATEGORIES:
        names = sorted(p.name for p in (root / "16x16" / category).glob("*.png")
                       if all(_real(root / f"{size}x{size}" / category / p.name) for size in sizes))
        chosen = 0
        for name in rng.sample(names, len(names)):
            if chosen == ICONS_PER_CATEGORY:
                break
            pixels = np.asarray(Image.open(root / "48x48" / category / name).convert("RGBA"), np.int16)
            if any(_same_artwork(pixels, other) for other in taken):
                continue
            taken.append(pixels)
            chosen += 1
            group = f"{category}-{Path(name).stem}"
            for size in sizes:
                png = root / f"{size}x{size}" / category / name
                _save(_on_white(Image.open(png).convert("RGBA")), folder / f"{group}--{size}.png", labels, kind,
                      group, f"{size}px")


def _same_artwork(a: np.ndarray, b: np.ndarray) -> bool:
    """Two RGBA drawings of one size differ in under 10 % of their pixels (by more than 48 in a channel)."""
    return a.shape == b.shape and float((np.abs(a - b).max(axis=2) > 48).mean()) < 0.10


def _real(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()


def _save(image: Image.Image, path: Path, labels: dict[str, dict[str, str]], kind: str, group: str, edit: str,
          quality: int = 90) -> None:
    if path.suffix == ".jpg":
        image.convert("RGB").save(path, "JPEG", quality=quality)
    else:
        image.save(path, "PNG")
    labels[f"{path.parent.name}/{path.name}"] = {"set": kind, "group": group, "edit": edit}


def main(out: Path, seed: int = 14) -> None:
    rng = random.Random(seed)
    labels: dict[str, dict[str, str]] = {}
    build_photos(out, labels, rng)
    build_icons(out, labels, rng)
    for kind in THEMES:
        build_theme(out, labels, random.Random(seed), kind)
    (out / "labels.json").write_text(json.dumps(labels, indent=1, sort_keys=True))
    counts = {k: sum(1 for v in labels.values() if v["set"] == k) for k in ("photos", "icons", *THEMES)}
    print(f"{len(labels)} files in {out}: {counts}", file=sys.stderr)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DUP_EVAL_DIR", "/tmp/dup_eval")))
