"""``mmrag doctor --salvage``: build a new SQLite catalog from the rows a damaged one still yields.

Rows are copied table by table in row-id order, a batch at a time; a batch that meets a damaged page is
stepped over (growing steps) so the readable rows after it are still found. Rows whose parents were lost
(chunks of a lost document, tags of a lost asset) are dropped; vectors are kept, and `mmrag doctor --fix`
handles what remains (orphan vectors deleted, items without a vector re-embedded by the next ingest). The
vectors generations are bumped so every index file is re-synced with the salvaged rows. The damaged file is
kept beside the new one (``catalog.sqlite.damaged-*``), never deleted.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

BATCH = 500
MAX_STEP = 1 << 40
# Rows that point at a lost parent, deleted after the copy (foreign keys are off while copying).
DANGLING = (
    "DELETE FROM assets WHERE parent_id IS NOT NULL AND parent_id NOT IN (SELECT id FROM assets)",
    "DELETE FROM chunks WHERE asset_id NOT IN (SELECT id FROM assets)",
    "UPDATE assets SET source_chunk_id = NULL WHERE source_chunk_id NOT IN (SELECT id FROM chunks)",
    "DELETE FROM asset_tags WHERE asset_id NOT IN (SELECT id FROM assets) OR tag_id NOT IN (SELECT id FROM tags)",
)


@dataclass
class SalvageReport:
    damaged: str  # where the damaged file was moved
    copied: dict[str, int] = field(default_factory=dict)
    unreadable: dict[str, int] = field(default_factory=dict)  # failed reads (batches) per table
    dropped: int = 0  # rows dropped because their parent was lost

    def summary(self) -> str:
        copied = ", ".join(f"{table} {count}" for table, count in self.copied.items())
        lost = ", ".join(f"{table} ({n} damaged reads)" for table, n in self.unreadable.items() if n)
        return (f"salvaged {copied}" + (f"; rows lost in {lost}" if lost else "; no damaged rows met")
                + (f"; dropped {self.dropped} rows whose parent was lost" if self.dropped else "")
                + f"; the damaged file is kept as {self.damaged}")


def salvage_sqlite(catalog_path: Path) -> SalvageReport:
    """Replace the SQLite catalog at ``catalog_path`` by one holding every row still readable in it.

    The caller holds the library's write lock. The new catalog has the current schema (made by ``Catalog``).
    """
    from .db import Catalog

    catalog_path = Path(catalog_path)
    if not catalog_path.is_file():
        raise FileNotFoundError(f"no catalog file at {catalog_path}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    fresh = catalog_path.with_name(f".{catalog_path.name}.salvage-{stamp}.tmp")
    Catalog(f"sqlite:///{fresh}").dispose()  # the current schema, empty
    report = SalvageReport(damaged=f"{catalog_path.name}.damaged-{stamp}")
    source = sqlite3.connect(f"file:{catalog_path}?mode=ro", uri=True)
    target = sqlite3.connect(fresh)
    try:
        target.execute("PRAGMA foreign_keys=OFF")
        for table in _tables(target):
            copied, failures = _copy_table(source, target, table)
            report.copied[table], report.unreadable[table] = copied, failures
        before = target.total_changes
        for statement in DANGLING:
            target.execute(statement)
        report.dropped = target.total_changes - before
        target.execute("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) "
                       "WHERE key LIKE 'vectors_generation:%'")
        target.commit()
    finally:
        source.close()
        target.close()
    _swap(catalog_path, fresh, catalog_path.with_name(report.damaged))
    return report


def _tables(db: sqlite3.Connection) -> list[str]:
    rows = db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                      "ORDER BY name").fetchall()
    return [row[0] for row in rows]


def _columns(db: sqlite3.Connection, table: str) -> list[str] | None:
    try:
        return [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
    except sqlite3.DatabaseError:
        return None


def _copy_table(source: sqlite3.Connection, target: sqlite3.Connection, table: str) -> tuple[int, int]:
    """Copy the readable rows of ``table``; returns (rows copied, reads that failed)."""
    theirs, ours = _columns(source, table), _columns(target, table)
    if not theirs or not ours:
        return 0, 1 if theirs is None else 0
    columns = [c for c in ours if c in theirs]
    names = ", ".join(f'"{c}"' for c in columns)
    select = f'SELECT rowid, {names} FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT {BATCH}'  # noqa: S608
    insert = f'INSERT OR REPLACE INTO "{table}" ({names}) VALUES ({", ".join("?" * len(columns))})'  # noqa: S608
    last, copied, failures, step = -(1 << 62), 0, 0, 1
    while True:
        try:
            rows = source.execute(select, (last,)).fetchall()
        except sqlite3.DatabaseError:
            failures += 1
            if step > MAX_STEP:
                return copied, failures
            last, step = (0 if last < 0 else last + step), step * 2  # step over the damaged stretch
            continue
        step = 1
        if not rows:
            return copied, failures
        target.executemany(insert, [row[1:] for row in rows])
        copied += len(rows)
        last = rows[-1][0]


def _swap(catalog: Path, fresh: Path, damaged: Path) -> None:
    """Move the damaged file (and its WAL) aside and the salvaged one into place."""
    os.replace(catalog, damaged)
    for suffix in ("-wal", "-shm"):
        side = Path(f"{catalog}{suffix}")
        if side.exists():
            os.replace(side, Path(f"{damaged}{suffix}"))
    for suffix in ("-wal", "-shm"):
        Path(f"{fresh}{suffix}").unlink(missing_ok=True)
    os.replace(fresh, catalog)
