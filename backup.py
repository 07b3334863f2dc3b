"""``mmrag backup`` / ``mmrag restore``: a consistent copy of a library that can be put back.

A backup folder holds the catalog (SQLite's online backup API: a consistent snapshot even while readers
search, including what is still in the WAL), the index files with their sidecars, ``mmrag.toml``, the
pictures extracted from documents, and ``backup.json`` (library id, counts, and a SHA-256 of every file,
checked before a restore). Thumbnails are left out: ``mmrag doctor --fix`` makes them again from the files.
The backup holds the library's write lock, so the index files match the catalog snapshot.

A PostgreSQL catalog is not copied (the database server owns it): the backup says how to use ``pg_dump``
and still copies the index files and settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import LibraryError, LibraryLockedError
from .settings import SETTINGS_FILE

if TYPE_CHECKING:
    from .library import Library

MANIFEST = "backup.json"
CATALOG_FILE = "catalog.sqlite"
FORMAT = 1
COPIED_FOLDERS = ("index", "extracted")
PG_GUIDANCE = ("the catalog is a PostgreSQL database: back it up with the server's tools, e.g. "
               "`pg_dump --format=custom --file {dest}/catalog.pgdump DATABASE`, and restore it with "
               "`pg_restore --clean --dbname DATABASE {dest}/catalog.pgdump` before `mmrag restore`")


@dataclass
class BackupManifest:
    library: str
    library_id: str
    database: str  # "sqlite" | "postgresql"
    created: float
    counts: dict[str, int] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # relative path -> size, sha256
    notes: list[str] = field(default_factory=list)
    format: int = FORMAT

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- backup ---------------------------------------------------------------------------------------------------

def backup_library(lib: Library, dest: str | os.PathLike[str]) -> BackupManifest:
    """Copy ``lib`` into the new (or empty) folder ``dest`` under the write lock; returns the manifest."""
    target = _empty_folder(Path(os.path.expanduser(str(dest))).absolute())
    if target == lib.path or lib.path in target.parents:
        raise ValueError(f"backup folder {target} must be outside the library {lib.path}")
    catalog = lib.catalog
    manifest = BackupManifest(str(lib.path), catalog.library_id(), catalog.dialect, time.time())
    with lib.writing():
        catalog.checkpoint()
        if catalog.dialect == "sqlite":
            _sqlite_snapshot(lib, target / CATALOG_FILE)
        else:
            manifest.notes.append(PG_GUIDANCE.format(dest=target))
        manifest.counts = _counts(target / CATALOG_FILE) if catalog.dialect == "sqlite" else {}
        for name in COPIED_FOLDERS:
            if (lib.path / name).is_dir():
                shutil.copytree(lib.path / name, target / name, ignore=shutil.ignore_patterns("*.tmp"))
        if (lib.path / SETTINGS_FILE).is_file():
            shutil.copy2(lib.path / SETTINGS_FILE, target / SETTINGS_FILE)
    manifest.files = {rel: _describe(target / rel) for rel in _files_under(target)}
    _write_json(target / MANIFEST, manifest.to_dict())
    return manifest


def _empty_folder(target: Path) -> Path:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"backup folder {target} already exists and is not empty; give a new folder")
    target.mkdir(parents=True, exist_ok=True)
    return target


def _sqlite_snapshot(lib: Library, path: Path) -> None:
    """SQLite's online backup API, from a pooled connection of the library's engine, then an fsync."""
    with lib.catalog.engine.connect() as conn:
        source = conn.connection.dbapi_connection
        copy = sqlite3.connect(path)
        try:
            source.backup(copy)  # type: ignore[union-attr]
            copy.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
        finally:
            copy.close()
    _fsync(path)
    problems = _quick_check(path)
    if problems:
        from .catalog.db import damage_error

        raise damage_error(str(lib.catalog.safe_url), f"its backup copy fails SQLite's quick_check: {problems[0]}")


def _counts(path: Path) -> dict[str, int]:
    with _readonly(path) as db:
        return {table: int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 - fixed names
                for table in ("assets", "chunks", "vectors")}


# -- restore --------------------------------------------------------------------------------------------------

def restore_library(source: str | os.PathLike[str], library: str | os.PathLike[str], *,
                    force: bool = False) -> BackupManifest:
    """Put the backup in ``source`` back as the library folder ``library``.

    Every file is checked against the manifest first. A library that already has a catalog is replaced
    only with ``force``; its old catalog is kept beside the new one (``catalog.sqlite.before-restore-*``),
    never deleted. Works on a library whose catalog is damaged (it is not opened).
    """
    from filelock import FileLock, Timeout

    from .library import LOCK_FILE

    src = Path(os.path.expanduser(str(source))).absolute()
    lib_path = Path(os.path.expanduser(str(library))).resolve()
    manifest = read_manifest(src)
    verify_backup(src, manifest)
    if manifest.database != "sqlite":
        raise LibraryError(PG_GUIDANCE.format(dest=src) + "; this backup holds no catalog to restore")
    catalog = lib_path / CATALOG_FILE
    if catalog.exists() and not force:
        raise LibraryError(f"library {lib_path} already has a catalog; `mmrag restore --force` replaces it "
                           "(the current one is kept beside it as catalog.sqlite.before-restore-*)")
    lib_path.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lib_path / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise LibraryLockedError(f"another process is writing to library {lib_path}; wait for it to finish") from None
    try:
        _restore_files(src, lib_path, manifest)
    finally:
        lock.release()
    return manifest


def read_manifest(src: Path) -> BackupManifest:
    try:
        data = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
        return BackupManifest(**data)
    except FileNotFoundError:
        raise LibraryError(f"{src} is not an mmrag backup (no {MANIFEST})") from None
    except (OSError, ValueError, TypeError) as exc:
        raise LibraryError(f"{src / MANIFEST} is unreadable: {exc}") from None


def verify_backup(src: Path, manifest: BackupManifest) -> None:
    """Every file the manifest lists is there with its size and SHA-256; the catalog passes quick_check."""
    for rel, expected in manifest.files.items():
        path = src / rel
        if not path.is_file():
            raise LibraryError(f"backup {src} is incomplete: {rel} is missing")
        if _describe(path) != expected:
            raise LibraryError(f"backup {src} is damaged: {rel} does not match its recorded SHA-256")
    if manifest.database == "sqlite":
        problems = _quick_check(src / CATALOG_FILE)
        if problems:
            raise LibraryError(f"backup {src} holds a damaged catalog ({problems[0]})")


def _restore_files(src: Path, lib_path: Path, manifest: BackupManifest) -> None:
    catalog = lib_path / CATALOG_FILE
    staged = lib_path / f".{CATALOG_FILE}.restore.tmp"
    shutil.copyfile(src / CATALOG_FILE, staged)
    _fsync(staged)
    if catalog.exists():
        os.replace(catalog, lib_path / f"{CATALOG_FILE}.before-restore-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("-wal", "-shm", "-journal"):  # they belong to the replaced file
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)
    os.replace(staged, catalog)
    for name in COPIED_FOLDERS:
        if (src / name).is_dir():
            staging = lib_path / f".{name}.restore.tmp"
            shutil.rmtree(staging, ignore_errors=True)
            shutil.copytree(src / name, staging)
            if (lib_path / name).exists():
                shutil.rmtree(lib_path / name)  # derived data (index) or a copy of the backup's (extracted)
            os.replace(staging, lib_path / name)
    if (src / SETTINGS_FILE).is_file():
        shutil.copy2(src / SETTINGS_FILE, lib_path / SETTINGS_FILE)
    _fsync_dir(lib_path)


def salvage(library: str | os.PathLike[str]) -> str:
    """``doctor --salvage``: rebuild the SQLite catalog of ``library`` from its readable rows, under the
    write lock, without opening it as a library (it may not open); returns a summary."""
    from filelock import FileLock, Timeout

    from .catalog.salvage import salvage_sqlite
    from .library import LOCK_FILE
    from .settings import Settings

    settings = Settings(library=library)
    if settings.database_url and not settings.database_url.startswith("sqlite"):
        raise ValueError("--salvage works on SQLite catalogs; restore a PostgreSQL catalog with pg_restore")
    path = Path(settings.resolved_database_url.removeprefix("sqlite:///"))
    lock = FileLock(str(settings.library / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise LibraryLockedError(f"another process is writing to library {settings.library}") from None
    try:
        return salvage_sqlite(path).summary()
    finally:
        lock.release()


# -- helpers --------------------------------------------------------------------------------------------------

@contextmanager
def _readonly(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        yield db
    finally:
        db.close()


def _quick_check(path: Path) -> list[str]:
    try:
        with _readonly(path) as db:
            rows = [str(row[0]) for row in db.execute("PRAGMA quick_check(5)")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if rows == ["ok"] else rows


def _files_under(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def _describe(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
    _fsync(tmp)
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    if os.name != "nt":
        _fsync(folder)


__all__ = ["BackupManifest", "backup_library", "read_manifest", "restore_library", "salvage", "verify_backup"]
