"""The invariants a library must keep through any fault, checked independently of the code under test.

The catalog is read with plain ``sqlite3`` (not mmrag's models); the index files are read with FAISS through
mmrag's file format, since nothing else can parse them. Each function returns a list of violations (empty
when the invariant holds), so a trial can report all of them at once.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np

IMAGE_KINDS = ("image", "generated")


def connect(library: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{Path(library) / 'catalog.sqlite'}?mode=ro", uri=True, timeout=60)


def count_assets(library: Path) -> int:
    """Rows in ``assets`` (ok or skipped); 0 before the catalog exists."""
    if not (Path(library) / "catalog.sqlite").exists():
        return 0
    try:
        with connect(library) as db:
            return int(db.execute("SELECT count(*) FROM assets").fetchone()[0])
    except sqlite3.OperationalError:  # tables not created yet
        return 0


def catalog_violations(library: Path) -> list[str]:
    """Every ok image asset has exactly one image vector, every vector an ok owner, paths are unique."""
    if not (Path(library) / "catalog.sqlite").exists():
        return []
    with connect(library) as db:
        ok_images = {r[0] for r in db.execute(
            "SELECT id FROM assets WHERE status = 'ok' AND kind IN ('image', 'generated')")}
        vector_items = [r[0] for r in db.execute("SELECT item_id FROM vectors WHERE space = 'image'")]
        chunk_ids = {r[0] for r in db.execute("SELECT id FROM chunks")}
        text_items = [r[0] for r in db.execute("SELECT item_id FROM vectors WHERE space = 'text'")]
        paths = [r[0] for r in db.execute("SELECT path FROM assets")]
        bad_status = db.execute("SELECT count(*) FROM assets WHERE status NOT IN ('ok', 'skipped')").fetchone()[0]
        no_reason = db.execute(
            "SELECT path FROM assets WHERE status = 'skipped' AND coalesce(error, '') = ''").fetchall()
    out = []
    doubled = [i for i, n in Counter(vector_items).items() if n > 1]
    out += [f"{len(doubled)} assets have more than one image vector, e.g. {doubled[:3]}"] if doubled else []
    missing = sorted(ok_images - set(vector_items))
    out += [f"{len(missing)} ok image assets have no vector, e.g. {missing[:3]}"] if missing else []
    orphans = sorted(set(vector_items) - ok_images)
    out += [f"{len(orphans)} image vectors have no ok asset, e.g. {orphans[:3]}"] if orphans else []
    text_orphans = sorted(set(text_items) - chunk_ids)
    out += [f"{len(text_orphans)} text vectors have no chunk"] if text_orphans else []
    dup_paths = [p for p, n in Counter(paths).items() if n > 1]
    out += [f"{len(dup_paths)} paths appear more than once, e.g. {dup_paths[:2]}"] if dup_paths else []
    out += [f"{bad_status} assets have an unknown status"] if bad_status else []
    out += [f"{len(no_reason)} skipped files have no reason, e.g. {no_reason[:2]}"] if no_reason else []
    return out


def stored_ids(library: Path, space: str = "image") -> np.ndarray:
    with connect(library) as db:
        rows = db.execute("SELECT item_id FROM vectors WHERE space = ?", (space,)).fetchall()
    return np.sort(np.asarray([r[0] for r in rows], dtype=np.int64))


def index_file_state(library: Path, space: str = "image") -> str:
    """'absent', 'ok', 'stale-sidecar' (a complete index file with the sidecar of the previous one: what a
    kill between the two renames of a save leaves) or 'damaged: <why>' (anything else)."""
    import faiss

    from mmrag.errors import IndexCorruptError
    from mmrag.index.faiss_index import FaissIndex

    path = Path(library) / "index" / f"{space}.faiss"
    if not path.exists() and not path.with_suffix(".json").exists():
        return "absent"
    try:
        FaissIndex.load(path, use_gpu=False)
        return "ok"
    except IndexCorruptError as exc:
        try:
            faiss.read_index(str(path))
        except RuntimeError:
            return f"damaged: {exc}"
        return "stale-sidecar" if "sidecar says" in str(exc) or "does not match sidecar" in str(exc) \
            else f"damaged: {exc}"


def index_file_violations(library: Path, space: str = "image", *, stale_ok: bool = False) -> list[str]:
    """The saved index is complete and matches its sidecar (``stale_ok``: a stale sidecar is tolerated)."""
    state = index_file_state(library, space)
    if state in ("absent", "ok") or (stale_ok and state == "stale-sidecar"):
        return []
    return [f"saved {space} index: {state}"]


def opened_index_violations(library: Path, space: str = "image") -> list[str]:
    """A reader opening the library gets an index holding exactly the stored vectors' ids, whatever state
    the saved file is in (a stale sidecar left by a kill included: readers then build the index in memory)."""
    from mmrag.catalog import Catalog
    from mmrag.errors import IndexCorruptError
    from mmrag.index.index_set import IndexSet

    if not (Path(library) / "catalog.sqlite").exists():
        return []
    catalog = Catalog(f"sqlite:///{Path(library) / 'catalog.sqlite'}", create=False)
    try:
        indexes = IndexSet(catalog, Path(library) / "index", use_gpu=False, writable=False)
        try:
            index = indexes.get(space)
        except IndexCorruptError as exc:
            return [f"a reader cannot open the {space} index: {exc}"]
        have = index.ids() if index is not None else np.zeros(0, np.int64)
    finally:
        catalog.dispose()
    want = stored_ids(library, space)
    if np.array_equal(np.sort(have), want):
        return []
    extra, lacking = np.setdiff1d(have, want), np.setdiff1d(want, have)
    return [f"opened {space} index differs from the stored vectors: {len(extra)} extra {extra[:3].tolist()}, "
            f"{len(lacking)} missing {lacking[:3].tolist()}"]


def crash_violations(library: Path) -> list[str]:
    """What must hold at any instant, even right after a kill. A stale sidecar (see index_file_state) is
    tolerated here, counted by the trials, and must be gone once a writer has run to completion."""
    return (catalog_violations(library) + index_file_violations(library, stale_ok=True)
            + opened_index_violations(library))


def manifest_violations(library: Path, manifest: object) -> list[str]:
    """After a completed run: every good file ok exactly once, every broken one skipped with its reason,
    nothing points at a missing file, every ok picture has its thumbnail."""
    root = Path(manifest.root).as_posix()  # type: ignore[attr-defined]
    good: set[str] = manifest.good  # type: ignore[attr-defined]
    broken: dict[str, str] = manifest.broken  # type: ignore[attr-defined]
    with connect(library) as db:
        rows = db.execute("SELECT path, status, error, sha256, kind FROM assets WHERE parent_id IS NULL "
                          "AND (path = ? OR path LIKE ?)", (root, root.rstrip("/") + "/%")).fetchall()
    by_path = {path: (status, error or "", sha, kind) for path, status, error, sha, kind in rows}
    out = []
    lost = sorted(p for p in good if by_path.get(p, ("",))[0] != "ok")
    out += [f"{len(lost)} readable files are not ok in the catalog, e.g. "
            f"{[(p, by_path.get(p)) for p in lost[:3]]}"] if lost else []
    wrong = sorted(p for p, why in broken.items() if by_path.get(p, ("", ""))[0] != "skipped"
                   or why not in by_path[p][1])
    out += [f"{len(wrong)} broken files lack their skip reason, e.g. "
            f"{[(p, broken[p], by_path.get(p)) for p in wrong[:3]]}"] if wrong else []
    stray = sorted(set(by_path) - good - set(broken))
    out += [f"{len(stray)} catalog entries are not in the folder, e.g. {stray[:3]}"] if stray else []
    gone = sorted(p for p in by_path if not os.path.lexists(p))
    out += [f"{len(gone)} catalog entries point at missing files, e.g. {gone[:3]}"] if gone else []
    thumbs = Path(library) / "thumbs"
    unthumbed = sorted(p for p, (status, _, sha, kind) in by_path.items()
                       if status == "ok" and kind == "image" and not (thumbs / sha[:2] / f"{sha}.jpg").exists())
    out += [f"{len(unthumbed)} ok pictures have no thumbnail, e.g. {unthumbed[:3]}"] if unthumbed else []
    return out


def all_violations(library: Path, manifest: object) -> list[str]:
    """Everything, strictly: for a library whose last writer finished."""
    return (catalog_violations(library) + index_file_violations(library) + opened_index_violations(library)
            + manifest_violations(library, manifest))


def generation(library: Path, space: str = "image") -> int:
    """The catalog's vectors generation of ``space`` (bumped by every committed change); 0 before any."""
    if not (Path(library) / "catalog.sqlite").exists():
        return 0
    try:
        with connect(library) as db:
            row = db.execute("SELECT value FROM meta WHERE key = ?", (f"vectors_generation:{space}",)).fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def leftover_temp_files(library: Path) -> list[str]:
    """Temporary files a killed writer left behind (harmless; ``mmrag doctor --fix`` removes them)."""
    return sorted(p.as_posix() for p in Path(library).rglob("*.tmp"))
