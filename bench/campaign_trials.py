"""Re-run the independent fault campaign of issue 17 against the current code, for docs/reliability.md.

Each stage injects one kind of fault into real libraries (real SQLite files, FAISS files, symlinks, FIFOs,
the real CLI through typer's runner) and counts the outcomes the campaign counted: items in a copied
catalog file, wrong hits, reader failures, tracebacks, commands exiting 0 on a damaged catalog, hangs.
The tiny CLIP model keeps it CPU-only; nothing is mocked.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/campaign_trials.py --files 300 --json /tmp/campaign.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "reliability"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rel_corpus import make_corpus  # noqa: E402
from test_corruption import DAMAGES, _damage  # noqa: E402
from test_paths_and_names import FIFO_CHILD  # noqa: E402

CLI_FAIL_ON_DAMAGE = ("rebuild", "doctor", "backup")  # the commands that read every page


def _library(path: Path, clip: Any, **overrides: Any) -> Any:
    from mmrag import Library

    return Library(path, clip=clip, clip_model="tiny-test", device="cpu", use_gpu_index=False, **overrides)


def _cli(*args: str) -> tuple[int, str, bool]:
    """(exit code, output, whether an exception escaped: a traceback for the user)."""
    from typer.testing import CliRunner

    from mmrag.cli import app

    result = CliRunner(env={"COLUMNS": "300"}).invoke(app, list(args))
    escaped = result.exception is not None and not isinstance(result.exception, SystemExit)
    return result.exit_code, result.output, escaped


def _count(catalog: Path, table: str = "assets") -> int:
    with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True) as db:
        return int(db.execute(f"SELECT count(*) FROM {table} WHERE 1").fetchone()[0])  # noqa: S608


def _good(manifest: Any) -> int:
    return len(manifest.good)


# -- stages --------------------------------------------------------------------------------------------------

def stage_wal(work: Path, clip: Any, files: int) -> dict[str, Any]:
    manifest = make_corpus(work / "photos", files, seed=1)
    lib = _library(work / "lib", clip)
    report = lib.ingest([work / "photos"])
    lone = work / "lone.sqlite"
    shutil.copyfile(lib.path / "catalog.sqlite", lone)  # the library is still open
    wal = os.path.getsize(f"{lib.path / 'catalog.sqlite'}-wal")
    lib.close()
    return {"added": report.added, "good_files": _good(manifest), "assets_in_catalog_file_alone": _count(lone),
            "wal_bytes_after_ingest": wal}


def stage_foreign(work: Path, clip: Any, files: int) -> dict[str, Any]:
    from PIL import Image

    manifest = make_corpus(work / "photos", min(files, 120), seed=2, broken_every=10**9, copy_every=10**9)
    names = sorted(Path(p) for p in manifest.good)
    other = work / "other"
    for i, path in enumerate(names):  # same relative names, shifted pictures: same ids and generation
        target = other / path.relative_to(work / "photos")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.open(names[(i + 1) % len(names)]).convert("RGB").save(target, "PNG")
    mine, theirs = _library(work / "mine", clip), _library(work / "theirs", clip)
    mine.ingest([work / "photos"])
    theirs.ingest([other])
    same_generation = mine.catalog.generation("image") == theirs.catalog.generation("image")
    for suffix in (".faiss", ".json"):
        shutil.copy(theirs.path / "index" / f"image{suffix}", mine.path / "index" / f"image{suffix}")
    reader = _library(mine.path, clip)
    wrong = sum(reader.search_image(path, k=1)[0].path != path.as_posix() for path in names[:40])
    mine.ingest([work / "photos"])
    from mmrag.index.files import verify_file

    repaired = verify_file(mine.path / "index" / "image.faiss", mine.catalog.library_id()) is None
    for lib in (mine, theirs, reader):
        lib.close()
    return {"queries": min(40, len(names)), "wrong_top1": wrong, "same_generation": same_generation,
            "repaired_by_no_op_ingest": repaired}


def stage_aliases(work: Path, clip: Any, files: int) -> dict[str, Any]:
    manifest = make_corpus(work / "root" / "B", min(files, 300), seed=3)
    (work / "root" / "A").mkdir()
    (work / "root" / "link_to_B").symlink_to(work / "root" / "B", target_is_directory=True)
    lib = _library(work / "lib", clip)
    for spelling in (work / "root" / "A" / ".." / "B", work / "root" / "link_to_B", work / "root"):
        lib.ingest([spelling])
    hits = lib.search_text("a picture", k=50)
    rows = _count(lib.path / "catalog.sqlite")
    removed = lib.remove([work / "root" / "link_to_B"])
    left = _count(lib.path / "catalog.sqlite")
    lib.close()
    return {"files": len(manifest.good) + len(manifest.broken), "rows_after_3_spellings": rows,
            "duplicate_hits": len(hits) - len({h.path for h in hits}), "removed_by_alias": removed,
            "rows_left": left}


def stage_index_damage(work: Path, clip: Any, files: int) -> dict[str, Any]:
    make_corpus(work / "photos", min(files, 200), seed=4)
    base = _library(work / "base", clip)
    base.ingest([work / "photos"])
    base.close()
    out: dict[str, Any] = {}
    for damage in [*DAMAGES, "kill-between-renames"]:
        lib_path = work / damage
        shutil.copytree(base.path, lib_path)
        index = lib_path / "index" / "image.faiss"
        if damage == "kill-between-renames":
            stale = index.with_suffix(".json").read_bytes()
            victim = next((work / "photos").rglob("*.jpg"))
            moved = victim.with_suffix(".moved")
            victim.rename(moved)
            writer = _library(lib_path, clip)
            writer.ingest([work / "photos"])
            writer.close()
            moved.rename(victim)
            index.with_suffix(".json").write_bytes(stale)
        else:
            _damage(index, damage)
        out[damage] = _reader_and_writer(lib_path, clip, work / "photos")
    return out


def _reader_and_writer(lib_path: Path, clip: Any, photos: Path) -> dict[str, Any]:
    from mmrag.index.files import verify_file

    failures, started = 0, time.perf_counter()
    for _ in range(3):
        reader = _library(lib_path, clip)
        try:
            reader.search_text("a picture", k=5)
        except Exception:  # noqa: BLE001 - counted
            failures += 1
        reader.close()
    seconds = (time.perf_counter() - started) / 3
    writer = _library(lib_path, clip)
    writer.ingest([photos])
    repaired = verify_file(lib_path / "index" / "image.faiss", writer.catalog.library_id()) is None
    writer.close()
    return {"reader_failures": failures, "reader_open_search_s": round(seconds, 2), "repaired": repaired}


def _damage_page(catalog: Path, table: str | None, page: int | None = None) -> None:
    with sqlite3.connect(catalog) as db:
        size = db.execute("PRAGMA page_size").fetchone()[0]
        if table is not None:
            page = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    with open(catalog, "r+b") as f:
        f.seek((int(page or 1) - 1) * size)
        f.write(bytes([0x5A]) * size)


CATALOG_DAMAGES: dict[str, Callable[[Path], None]] = {
    "not-a-database": lambda c: c.write_bytes(b"garbage " * 4096),
    "vectors-root-page": lambda c: _damage_page(c, "vectors"),
    "assets-root-page": lambda c: _damage_page(c, "assets"),
    "middle-page": lambda c: _damage_page(c, None, c.stat().st_size // 4096 // 2),
    "schema-page": lambda c: _damage_page(c, None, 1),
}


def stage_catalog_damage(work: Path, clip: Any, files: int) -> dict[str, Any]:
    make_corpus(work / "photos", min(files, 300), seed=5)
    base = _library(work / "base", clip)
    base.ingest([work / "photos"])
    base.close()
    out: dict[str, Any] = {}
    for name, damage in CATALOG_DAMAGES.items():
        lib_path = work / name
        shutil.copytree(base.path, lib_path)
        damage(lib_path / "catalog.sqlite")
        tracebacks, exit0_on_damage, commands = 0, [], 0
        for args in (["search", "a picture"], ["status"], ["skipped"], ["similar", "3"], ["rebuild"],
                     ["ingest", str(work / "photos")], ["doctor"], ["backup", str(work / f"bk-{name}")]):
            code, _output, escaped = _cli(*args, "--library", str(lib_path))
            commands += 1
            tracebacks += escaped
            if code == 0 and args[0] in CLI_FAIL_ON_DAMAGE:
                exit0_on_damage.append(args[0])
        code, output, escaped = _cli("doctor", "--salvage", "--fix", "--library", str(lib_path))
        tracebacks += escaped
        recovered = _count(lib_path / "catalog.sqlite") if (lib_path / "catalog.sqlite").exists() else 0
        out[name] = {"commands": commands + 1, "tracebacks": tracebacks, "exit_0_on_damage": exit0_on_damage,
                     "assets_after_salvage": recovered}
    out["assets_before"] = _count(base.path / "catalog.sqlite")
    return out


def stage_fifo(work: Path, _clip: Any, _files: int) -> dict[str, Any]:
    from PIL import Image

    folder = work / "in"
    folder.mkdir()
    (folder / "a.txt").write_text("some text")
    Image.new("RGB", (8, 8)).save(folder / "b.png")
    started = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", FIFO_CHILD, str(folder)], capture_output=True, text=True,
                              timeout=120)
        outcome = json.loads(done.stdout) if done.returncode == 0 else done.stderr[-300:]
    except subprocess.TimeoutExpired:
        outcome = "hung (killed after 120 s)"
    return {"fifos": 2, "seconds": round(time.perf_counter() - started, 1), "outcome": outcome}


def stage_symlinks(work: Path, clip: Any, files: int) -> dict[str, Any]:
    make_corpus(work / "root", min(files, 100), seed=6)
    outside = work / "outside"
    make_corpus(outside, 20, seed=7, broken_every=10**9)
    (work / "root" / "passwd.txt").symlink_to("/etc/passwd")
    (work / "root" / "outside_dir").symlink_to(outside, target_is_directory=True)
    (work / "root" / "outside.jpg").symlink_to(next(outside.rglob("*.jpg")))
    lib = _library(work / "lib", clip)
    report = lib.ingest([work / "root"])
    with sqlite3.connect(lib.path / "catalog.sqlite") as db:
        leaked = db.execute("SELECT count(*) FROM assets WHERE status = 'ok' AND path NOT LIKE ?",
                            (f"{(work / 'root').as_posix()}/%",)).fetchone()[0]
    reasons = [r for p, r in report.skipped if "outside the ingested folders" in r]
    lib.close()
    return {"outside_links": 3, "skipped_with_reason": len(reasons), "outside_items_ingested": leaked}


def stage_markup(work: Path, _clip: Any, _files: int) -> dict[str, Any]:
    from PIL import Image

    folder = work / "[bold]pics["
    folder.mkdir()
    Image.new("RGB", (64, 48), (200, 80, 10)).save(folder / "]hot :x: coffee.jpg")
    (folder / "]broken :x:.jpg").write_bytes(b"\xff\xd8\xff nope")
    os.environ.update({"MMRAG_CLIP_MODEL": "tiny-test", "MMRAG_DEVICE": "cpu"})
    crashes, literal = 0, 0
    for args in (["ingest", str(folder)], ["search", "coffee"], ["skipped"], ["status"]):
        code, output, escaped = _cli(*args, "--library", str(work / "lib"))
        crashes += escaped or code != 0
        literal += "[bold]pics[/]" in output and "❌" not in output
    return {"commands": 4, "crashes": crashes, "printed_literally": literal}


def stage_small(work: Path, clip: Any, files: int) -> dict[str, Any]:
    make_corpus(work / "photos", 60, seed=8)
    lib = _library(work / "lib", clip)
    lib.ingest([work / "photos"])
    out: dict[str, Any] = {}
    code, output, escaped = _cli("tag", "9223372036854775808", "--add", "x", "--library", str(lib.path))
    out["tag_2**63"] = {"exit": code, "traceback": escaped}
    code, output, escaped = _cli("search", "--image", "/dev/zero", "--library", str(lib.path))
    out["search_image_dev_zero"] = {"exit": code, "says_does_not_exist": "does not exist" in output}
    started = time.perf_counter()
    code, output, escaped = _cli("rebuild", "--index-spec", "IVF99999999,Flat", "--library", str(lib.path))
    out["rebuild_IVF99999999"] = {"exit": code, "seconds": round(time.perf_counter() - started, 2)}
    bad_ids = 0
    for value in (True, 1.0, "1"):
        for call in (lib.get_asset, lib.similar):
            try:
                call(value)
            except TypeError:
                bad_ids += 1
    out["get_asset_similar_bad_ids_refused"] = f"{bad_ids}/6"
    leftover = lib.path / "index" / ".image.faiss.deadbeef.tmp"
    leftover.write_bytes(b"\0" * 4096)
    lib.ingest([work / "photos"])
    out["tmp_cleaned_by_next_writer"] = not leftover.exists()
    lib.close()
    import mmrag.models.registry as registry

    original, loads = registry.load_image_text_embedder, []
    registry.load_image_text_embedder = lambda *a, **k: loads.append(1) or original(*a, **k)  # type: ignore[assignment]
    try:
        from mmrag import Library

        again = Library(lib.path, clip_model="tiny-test", device="cpu", use_gpu_index=False)
        started = time.perf_counter()
        again.ingest([work / "photos"])
        out["no_op_reingest"] = {"model_loads": len(loads), "seconds": round(time.perf_counter() - started, 2)}
        again.close()
    finally:
        registry.load_image_text_embedder = original  # type: ignore[assignment]
    return out


def stage_warnings(work: Path, clip: Any, files: int) -> dict[str, Any]:
    make_corpus(work / "photos", min(files, 200), seed=9)
    before = list(warnings.filters)
    lib = _library(work / "lib", clip, workers=4)
    lib.ingest([work / "photos"])
    lib.close()
    return {"filters_changed_by_ingest": list(warnings.filters) != before}


STAGES: dict[str, Callable[[Path, Any, int], dict[str, Any]]] = {
    "wal": stage_wal, "foreign": stage_foreign, "aliases": stage_aliases, "index_damage": stage_index_damage,
    "catalog_damage": stage_catalog_damage, "fifo": stage_fifo, "symlinks": stage_symlinks,
    "markup": stage_markup, "small": stage_small, "warnings": stage_warnings,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    from mmrag.models.clip import OpenClipEmbedder

    clip = OpenClipEmbedder.load("tiny-test", None, "cpu")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mmrag-campaign-") as tmp:
        for stage in args.stages.split(","):
            work = Path(tmp) / stage
            work.mkdir()
            started = time.perf_counter()
            results[stage] = STAGES[stage](work, clip, args.files)
            results[stage]["stage_seconds"] = round(time.perf_counter() - started, 1)
            print(json.dumps({stage: results[stage]}), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
