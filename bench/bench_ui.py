"""Web app latency in Chromium: click "Search" → a grid of 24 results rendered (every thumbnail decoded); click a
thumbnail → its details dialog drawn with its image; "Next" in the dialog → the next item drawn.

One library (scikit-image's sample photos and flipped/rotated/cropped variants, 75 images, tiny-test CLIP) is
served by one Streamlit server per app tree; the same browser runs the same queries against each server in turn,
query by query, so the trees are compared side by side under the same machine load. A tree is a folder holding
the ``mmrag`` package (``git archive <commit>`` unpacked into ``<tree>/mmrag``); ``after`` defaults to this
checkout. The first query of each server (model load) is not timed. After each search one thumbnail (a
different one each query) is opened, stepped with Next and closed with Esc.

    git archive b5b8794 | (mkdir -p /tmp/uibench/before/mmrag && tar -x -C /tmp/uibench/before/mmrag)
    python bench/bench_ui.py --tree before=/tmp/uibench/before --tree after=. --queries 15
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps

SAMPLES = ("astronaut", "chelsea", "coffee", "rocket", "clock", "immunohistochemistry", "hubble_deep_field",
           "colorwheel", "retina", "camera", "moon", "page", "coins", "horse", "text")
QUERIES = ("a cat", "a red rocket", "coffee cup", "an astronaut", "a clock on a wall", "coins on a table",
           "the moon", "a horse", "a page of text", "a camera man", "a colour wheel", "stars in space",
           "a retina scan", "a cell stain", "a sofa", "a dog", "a tree", "a car", "a city", "a beach")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
K = 24
SETTLED_JS = """() => { const app = document.querySelector('[data-testid="stApp"]');
  const state = app && app.getAttribute('data-test-script-state');
  return state && state !== 'running' && state !== 'rerunRequested'
    && !document.querySelector('[data-stale="true"]'); }"""
GRID_JS = """([label, count]) => {
  const caption = [...document.querySelectorAll('[data-testid="stCaptionContainer"], .st-key-results-head')]
    .some(e => e.innerText.includes('results for') && e.innerText.includes(label));
  const imgs = [...document.querySelectorAll('.st-key-results img')];
  return caption && imgs.length >= count && imgs.every(i => i.complete && i.naturalWidth > 0); }"""


DIALOG_JS = """([position, before]) => { const d = document.querySelector('[role="dialog"]');
  const nav = d && d.querySelector('.st-key-details-nav');
  const img = d && d.querySelector('.st-key-details [data-testid="stImage"] img');
  return !!(nav && nav.innerText.includes(position) && img && img.src !== before && img.complete
    && img.naturalWidth > 0); }"""
DIALOG_IMG_JS = """() => {
  const i = document.querySelector('[role="dialog"] .st-key-details [data-testid="stImage"] img');
  return i ? i.src : ''; }"""


def sample_images(folder: Path) -> Path:
    """15 sample photos and 4 variants of each (mirror, rotate, centre crop, grey) as JPEG files."""
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    for name in SAMPLES:
        array = getattr(data, name)()
        image = Image.fromarray(array.astype("uint8") * (255 if array.dtype == bool else 1)).convert("RGB")
        w, h = image.size
        variants = {"": image, "-mirror": ImageOps.mirror(image), "-rot": image.rotate(90, expand=True),
                    "-crop": image.crop((w // 6, h // 6, w - w // 6, h - h // 6)), "-grey": ImageOps.grayscale(image)}
        for suffix, variant in variants.items():
            variant.convert("RGB").save(folder / f"{name}{suffix}.jpg", quality=90)
    return folder


def build_library(root: Path) -> Path:
    from mmrag import Library

    photos = sample_images(root / "photos")
    with Library(root / "library", clip_model="tiny-test", device="cpu") as lib:
        lib.ingest([photos])
    return root / "library"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(tree: Path, library: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [sys.executable, "-m", "streamlit", "run", str(tree / "mmrag" / "ui" / "app.py"),
               "--server.address", "127.0.0.1", "--server.port", str(port), "--server.headless", "true",
               "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
               "--client.toolbarMode", "minimal", "--", "--library", str(library)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return process, url
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"server for {tree} did not start; see {log}")


def open_tab(browser: Any, url: str) -> Any:
    tab = browser.new_page(viewport={"width": 1400, "height": 1000})
    tab.set_default_timeout(120_000)
    tab.goto(url)
    tab.get_by_label("What are you looking for?").wait_for()
    tab.wait_for_function(SETTLED_JS)
    timed_search(tab, "warm-up query", count=1)  # loads the model (not timed) and shows the slider
    thumb = tab.locator('[data-testid="stSlider"]', has_text="How many").locator('input[type="range"]')
    for _ in range(12):  # keyboard steps of 4 from the default to K
        value = int(thumb.input_value())
        if value == K:
            break
        thumb.focus()
        thumb.press("ArrowRight" if value < K else "ArrowLeft")
        tab.wait_for_timeout(300)
        tab.wait_for_function(SETTLED_JS)
    assert int(thumb.input_value()) == K, "could not set How many to 24"
    return tab


def timed_search(tab: Any, query: str, count: int = K) -> float:
    """Seconds from the click on Search to the grid of ``count`` decoded thumbnails under the new caption."""
    tab.get_by_label("What are you looking for?").fill(query)
    start = time.perf_counter()
    tab.locator('[data-testid="stFormSubmitButton"] button', has_text="Search").click()
    tab.wait_for_function(GRID_JS, arg=[query, count], polling="raf")
    return time.perf_counter() - start


def timed_dialog(tab: Any, index: int, count: int = K) -> tuple[float, float]:
    """Seconds from a click on thumbnail ``index`` to its dialog with its image, and from "Next" to the next item
    with its image; the dialog is closed with Esc after (not timed)."""
    tab.wait_for_function(SETTLED_JS)
    cell = tab.locator(".st-key-results .mm-open").nth(index)
    tab.wait_for_timeout(100)  # the grid may draw once more after its run
    start = time.perf_counter()
    cell.click()  # scrolls it into view; retried if the grid drew it anew meanwhile
    tab.wait_for_function(DIALOG_JS, arg=[f"{index + 1} of {count}", ""], polling="raf")
    opened = time.perf_counter() - start
    tab.wait_for_function(SETTLED_JS)
    before = tab.evaluate(DIALOG_IMG_JS)
    start = time.perf_counter()
    tab.locator('[role="dialog"]').get_by_role("button", name="Next").click()
    tab.wait_for_function(DIALOG_JS, arg=[f"{(index + 1) % count + 1} of {count}", before], polling="raf")
    stepped = time.perf_counter() - start
    tab.wait_for_function(SETTLED_JS)
    tab.keyboard.press("Escape")
    tab.locator('[role="dialog"]').wait_for(state="detached")
    tab.wait_for_function(SETTLED_JS)
    return opened, stepped


def _summary(values: list[float]) -> dict[str, Any]:
    return {"p50_s": round(statistics.median(values), 3), "min_s": round(min(values), 3),
            "max_s": round(max(values), 3), "n": len(values)}


def run(trees: dict[str, Path], library: Path, queries: int, logs: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    servers = {name: start_server(tree.resolve(), library, logs / f"{name}.log") for name, tree in trees.items()}
    samples: dict[str, list[float]] = {name: [] for name in trees}
    opens: dict[str, list[float]] = {name: [] for name in trees}
    steps: dict[str, list[float]] = {name: [] for name in trees}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            tabs = {name: open_tab(browser, url) for name, (_, url) in servers.items()}
            for index in range(queries):
                query = QUERIES[index % len(QUERIES)] + ("" if index < len(QUERIES) else f" {index}")
                for name, tab in tabs.items():
                    samples[name].append(timed_search(tab, query))
                    opened, stepped = timed_dialog(tab, (index * 5) % (K - 1))
                    opens[name].append(opened)
                    steps[name].append(stepped)
            browser.close()
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    result: dict[str, Any] = {name: {"search": _summary(samples[name]), "dialog_open": _summary(opens[name]),
                                     "dialog_next": _summary(steps[name])} for name in trees}
    names = list(trees)
    if len(names) == 2:
        result["ratio"] = {what: round(result[names[1]][what]["p50_s"] / result[names[0]][what]["p50_s"], 3)
                           for what in ("search", "dialog_open", "dialog_next")}
    result["load_average"] = [round(v, 2) for v in os.getloadavg()]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=DIR",
                        help="an app tree (a folder holding mmrag/); default: after=<this checkout's parent>")
    parser.add_argument("--queries", type=int, default=15)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ui-"))
    trees = dict(item.split("=", 1) for item in args.tree) or {"after": "."}
    resolved = {name: _tree(Path(path), workdir) for name, path in trees.items()}
    library = workdir / "library" if (workdir / "library" / "mmrag.toml").is_file() else build_library(workdir)
    print(json.dumps(run(resolved, library, args.queries, workdir), indent=2))


def _tree(path: Path, workdir: Path) -> Path:
    """A folder whose ``mmrag`` is the package: this checkout is linked in as ``<workdir>/tree-<name>/mmrag``."""
    path = path.resolve()
    if (path / "mmrag" / "ui" / "app.py").is_file():
        return path
    link = workdir / f"tree-{path.name}"
    link.mkdir(parents=True, exist_ok=True)
    if not (link / "mmrag").exists():
        (link / "mmrag").symlink_to(path)
    return link


if __name__ == "__main__":
    main()
